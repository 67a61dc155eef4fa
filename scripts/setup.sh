#!/usr/bin/env bash
# Installs what Weir needs on a fresh Debian machine: npm packages, and nats-server and chromium
# from apt when they are missing (nats-server, chromium, nftables, coturn, GStreamer, ffmpeg). Safe
# to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# --runtime: only what `npm start` needs (npm packages); --dev: `npm run dev` (npm packages and
# nats-server); tests also need chromium and the rest.
missing=()
if [ "${1:-}" = "--dev" ]; then
  command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
elif [ "${1:-}" != "--runtime" ]; then
  command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # topology tests: nftables inside the router namespaces they make
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  # TURN tests: a real coturn (turnserver), started by the test itself (apt does not start it here)
  command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
  # recording tests check files with an independent decoder
  command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
  # an independent WHIP publisher: GStreamer's webrtcbin driven from Debian's python3
  if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstWebRTC", "1.0")' >/dev/null 2>&1 ||
    ! command -v gst-inspect-1.0 >/dev/null 2>&1 || ! gst-inspect-1.0 nicesrc >/dev/null 2>&1; then
    missing+=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-nice python3-gi gir1.2-gstreamer-1.0
      gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0)
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from apt"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# A node_modules that is a symlink belongs to another checkout (a git worktree sharing it): npm ci
# would empty the other checkout's packages through it. Install there instead.
if [ -L node_modules ]; then
  echo "setup: node_modules is a symlink; not reinstalling (run npm ci where it points)"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
