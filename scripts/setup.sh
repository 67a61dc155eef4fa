#!/usr/bin/env bash
# Installs what Weir needs on a fresh Debian machine: npm packages, and nats-server and chromium
# from apt when they are missing. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# --runtime: only what `npm start` needs (npm packages); tests also need nats-server and chromium.
missing=()
if [ "${1:-}" != "--runtime" ]; then
  command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from apt"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
