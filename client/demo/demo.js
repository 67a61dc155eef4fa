// The demo page: join a room, publish camera and microphone, see and hear everyone else.
import { Room } from "/weir-client.js";

const $ = (id) => document.getElementById(id);
$("identity").value = `guest-${Math.random().toString(36).slice(2, 7)}`;
const tiles = new Map(); // identity -> { figure, stream }

function tile(identity) {
  let t = tiles.get(identity);
  if (t) return t;
  const figure = document.createElement("figure");
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("figcaption");
  caption.textContent = identity;
  figure.append(video, caption);
  $("videos").append(figure);
  t = { figure, video, stream: new MediaStream() };
  video.srcObject = t.stream;
  tiles.set(identity, t);
  return t;
}

function removeTile(identity) {
  tiles.get(identity)?.figure.remove();
  tiles.delete(identity);
}

async function join(roomName, identity) {
  const res = await fetch("/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ room: roomName, identity }),
  });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  const { token } = await res.json();
  const room = new Room();
  window.weirRoom = room; // for tests and curious developers
  room.on("connectionstatechange", (s) => ($("status").textContent = s));
  // How media flows: udp or tcp straight to the media node, or relay (TURN) over udp/tcp/tls.
  room.on("mediaconnectionchange", (m) => {
    $("media").textContent = m
      ? `media: ${m.transport}${m.relayProtocol ? ` over ${m.relayProtocol}` : ""}`
      : "";
  });
  room.on("trackpublished", (t) => room.subscribe(t.publisherId));
  room.on("track", ({ track, identity: who }) => {
    const t = tile(who ?? "unknown");
    t.stream.addTrack(track);
    t.video.muted = false;
  });
  room.on("trackended", () => {});
  room.on("participantleft", removeTile);
  room.on("error", (e) => console.warn("weir:", e));
  await room.connect(location.origin, token);
  for (const p of room.participants) for (const t of p.tracks) room.subscribe(t.publisherId);
  const media = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480 },
    audio: true,
  });
  const self = tile(`${identity} (you)`);
  self.video.muted = true;
  for (const track of media.getVideoTracks()) self.stream.addTrack(track);
  for (const track of media.getTracks()) await room.publish(track);
}

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  $("join").querySelector("button").disabled = true;
  join($("room").value, $("identity").value).catch((err) => {
    $("status").textContent = `error: ${err.message}`;
    $("join").querySelector("button").disabled = false;
  });
});
