// The demo page: a small conferencing app on the client SDK, plain JavaScript.
//
// Join with a name; mute the microphone or camera; share a screen; a tile per participant with
// its resolution, frame rate, bitrate, layer and connection type; choose a layer for a remote
// video; a text chat over a DataChannel publication; leave. The connection state, reconnects and
// every error are shown on the page.
//
// A few features light up only when the client SDK has them (checked at run time):
// - speaker highlighting: `room.on("activespeakers")` (with `room.activeSpeakers`);
// - muting through the room, which others see as `trackmuted` / `trackunmuted`: `room.setMuted`.
//   Without it the demo disables the local track (silence, black frames) and tells the others
//   over its chat channel;
// - recording: `room.startRecording` / `stopRecording`, when the token grants `record` or `admin`.
//
// URL parameters: ?token=<token> joins with that token instead of asking /dev/token (a server in
// development mode), ?edge=<url> talks to that edge instead of this page's origin, ?room=<name>.
import { Room } from "/weir-client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const EDGE = params.get("edge") ?? location.origin;
const CHAT_LABEL = "chat";

/** What this SDK build can do (see the header). */
const features = {
  speakers: "activeSpeakers" in Room.prototype,
  setMuted: typeof Room.prototype.setMuted === "function",
  recording: typeof Room.prototype.startRecording === "function",
};

/** For tests and curious developers: the room, features and the state history. */
const demo = { room: null, features, states: [], errors: [] };
window.weirDemo = demo;

$("identity").value = params.get("name") ?? `guest-${Math.random().toString(36).slice(2, 7)}`;
if (params.get("room")) $("room").value = params.get("room");

// --- page state ------------------------------------------------------------------------------

/** Everything about the current session; replaced on every join. */
let session = null;

function newSession(room, identity) {
  return {
    room,
    identity,
    /** identity -> participant tile */
    people: new Map(),
    /** publisherId -> { identity, kind, tile?, audio?, track?, screen, layer } */
    remote: new Map(),
    /** The local camera, microphone and screen tracks with what was published of them. */
    local: { mic: null, cam: null, screen: null },
    muted: { mic: false, cam: false },
    chat: null,
    /** dataPublisherId -> DataSubscription */
    chats: new Map(),
    recordingId: null,
    statsTimer: 0,
    lastBytes: new Map(),
  };
}

// --- messages ----------------------------------------------------------------------------------

function setStatus(state, text = state) {
  $("status").dataset.state = state;
  $("status").textContent = text;
  demo.states.push(state);
  $("reconnecting").hidden = state !== "reconnecting";
}

function showError(text) {
  demo.errors.push(text);
  $("error-text").textContent = text;
  $("error").hidden = false;
}

$("error-close").addEventListener("click", () => {
  $("error").hidden = true;
});

function systemMessage(text) {
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

/** A sentence for a person: what went wrong and what to do about it. */
function mediaErrorText(err, what) {
  switch (err?.name) {
    case "NotAllowedError":
      return `Permission to use the ${what} was denied. You are in the room and can watch, but nobody sees or hears you: allow access in the browser and join again.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `No ${what} was found. You are in the room and can watch; plug one in and join again.`;
    case "NotReadableError":
      return `The ${what} is busy or failed (another app may be using it). You are in the room and can watch.`;
    default:
      return `Could not start the ${what}: ${err?.message ?? err}`;
  }
}

// --- tokens and connecting ----------------------------------------------------------------------

async function fetchToken(room, identity) {
  const given = params.get("token");
  if (given) return given;
  if (EDGE !== location.origin) {
    throw new Error(
      `No token: this page talks to the edge at ${EDGE}, whose tokens it cannot mint. Open the page with ?token=<token> (mint one with \`npm run token\`).`,
    );
  }
  let res;
  try {
    res = await fetch("/dev/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ room, identity }),
    });
  } catch (err) {
    throw new Error(`Cannot reach ${location.origin} to get a token: ${err.message}`);
  }
  if (res.status === 404 || res.status === 405) {
    throw new Error(
      "No token: this server does not hand out development tokens (it runs with WEIR_SECRET). Open the page with ?token=<token>, minted by your backend or `npm run token`.",
    );
  }
  if (!res.ok) throw new Error(`No token: /dev/token answered ${res.status}: ${await res.text()}`);
  return (await res.json()).token;
}

/** The grants a token carries (read, not verified: the edge does that). */
function grantsOf(token) {
  try {
    const json = atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json).grants ?? [];
  } catch {
    return [];
  }
}

/**
 * A failed connect says little (a WebSocket that did not open); ask the edge what is wrong: is
 * it there, does it see a media node, does it take the token?
 */
async function explainConnectError(err, roomName, token) {
  let health;
  try {
    const res = await fetch(new URL("/healthz", EDGE), { signal: AbortSignal.timeout(5000) });
    health = res.ok ? await res.json() : null;
  } catch {
    return `Cannot reach the edge at ${EDGE}: is it running? (${err.message})`;
  }
  if (health && health.nodes === 0) {
    return "No media node is reachable: the edge is up but sees no live media node. Start one (npm run media-node) or wait for it to come back, then join again.";
  }
  try {
    const res = await fetch(new URL(`/v1/rooms/${encodeURIComponent(roomName)}`, EDGE), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      const code = body?.error?.code ?? res.status;
      const message = body?.error?.message ?? res.statusText;
      if (res.status === 401 || res.status === 403) {
        return `The edge refused the token (${code}: ${message}). Get a new one and join again.`;
      }
      if (res.status === 503)
        return `No media node can take the room right now (${code}: ${message}).`;
      return `The edge answered ${code}: ${message}`;
    }
  } catch {
    // fall through: the edge was there a moment ago
  }
  return `Could not join: ${err.message}`;
}

// --- joining and leaving ----------------------------------------------------------------------

async function join(roomName, identity, simulcast) {
  setStatus("connecting", "getting a token…");
  const token = await fetchToken(roomName, identity);
  const room = new Room();
  demo.room = room;
  window.weirRoom = room; // for tests and curious developers
  const s = newSession(room, identity);
  session = s;
  wireRoom(s);
  setStatus("connecting", "connecting…");
  try {
    await room.connect(EDGE, token);
  } catch (err) {
    session = null;
    throw new Error(await explainConnectError(err, roomName, token));
  }
  $("room-name").textContent = `room ${room.name} as ${room.identity}`;
  $("join").hidden = true;
  $("controls").hidden = false;
  $("chat").hidden = false;
  for (const id of ["mic", "cam", "screen", "leave"]) $(id).disabled = false;
  const canRecord = grantsOf(token).some((g) => g === "record" || g === "admin");
  $("record").hidden = !(features.recording && canRecord);
  for (const rec of room.recordings ?? []) recordingStarted(s, rec);

  personTile(s, room.identity, true);
  for (const p of room.participants) {
    personTile(s, p.identity, false);
    for (const t of p.tracks) remoteTrackPublished(s, { ...t, identity: p.identity });
    for (const d of p.data ?? []) dataPublished(s, { ...d, identity: p.identity });
  }
  s.statsTimer = setInterval(() => void updateStats(s), 1000);
  await openChat(s);
  await startMedia(s, simulcast);
}

function wireRoom(s) {
  const { room } = s;
  room.on("connectionstatechange", (state) => {
    if (session !== s) return;
    if (state === "reconnecting") setStatus("reconnecting", "reconnecting…");
    else if (state === "connected") setStatus("connected");
    else if (state === "closed") setStatus("closed", "left");
  });
  room.on("mediaconnectionchange", (m) => {
    $("media").textContent = m ? `media: ${pathText(m)}` : "";
  });
  room.on("participantjoined", (who) => {
    personTile(s, who, false);
    systemMessage(`${who} joined`);
  });
  room.on("participantleft", (who) => {
    removePerson(s, who);
    systemMessage(`${who} left`);
  });
  room.on("trackpublished", (t) => remoteTrackPublished(s, t));
  room.on("trackunpublished", ({ publisherId }) => remoteTrackGone(s, publisherId, true));
  room.on("track", (t) => remoteTrackLive(s, t));
  room.on("trackended", ({ publisherId }) => remoteTrackGone(s, publisherId, false));
  room.on("datapublished", (d) => dataPublished(s, d));
  // SDK features that may not be there yet: listening costs nothing if they never fire.
  room.on("trackmuted", ({ publisherId, identity }) => remoteMuted(s, publisherId, identity, true));
  room.on("trackunmuted", ({ publisherId, identity }) =>
    remoteMuted(s, publisherId, identity, false),
  );
  room.on("activespeakers", (speakers) => showSpeakers(s, speakers));
  room.on("recordingstarted", (rec) => recordingStarted(s, rec));
  room.on("recordingstopped", ({ recordingId }) => recordingStopped(s, recordingId));
  room.on("error", (err) => {
    console.warn("weir:", err);
    if (err?.code === "replaced")
      showError(`${s.identity} joined this room from another tab or device: this page left.`);
    else if (err?.code === "token_expired")
      showError("The token expired: join again to get a new one.");
    else if (s.room.state === "reconnecting") demo.errors.push(String(err?.message ?? err));
    else showError(`Something went wrong: ${err?.message ?? err}`);
  });
}

async function startMedia(s, simulcast) {
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: simulcast ? { width: 1280, height: 720 } : { width: 640, height: 480 },
    });
  } catch (err) {
    // Maybe only one of the two is missing or refused: try each alone before giving up.
    media = new MediaStream();
    for (const kind of ["audio", "video"]) {
      try {
        const one = await navigator.mediaDevices.getUserMedia({ [kind]: true });
        for (const t of one.getTracks()) media.addTrack(t);
      } catch {
        // reported below
      }
    }
    const missing = [
      media.getAudioTracks().length === 0 ? "microphone" : null,
      media.getVideoTracks().length === 0 ? "camera" : null,
    ].filter(Boolean);
    showError(mediaErrorText(err, missing.join(" and ") || "camera and microphone"));
  }
  if (session !== s) {
    for (const t of media.getTracks()) t.stop();
    return;
  }
  const self = s.people.get(s.room.identity);
  const [mic] = media.getAudioTracks();
  const [cam] = media.getVideoTracks();
  if (cam) {
    self.stream.addTrack(cam);
    self.figure.dataset.cam = "on";
    s.local.cam = await s.room.publish(cam, { simulcast });
  } else {
    $("cam").disabled = true;
  }
  if (mic) {
    self.figure.dataset.mic = "on";
    s.local.mic = await s.room.publish(mic);
  } else {
    self.figure.dataset.mic = "none";
    $("mic").disabled = true;
  }
}

async function leave() {
  const s = session;
  if (!s) return;
  session = null;
  clearInterval(s.statsTimer);
  for (const l of Object.values(s.local)) l?.track.stop();
  await s.room.close();
  $("videos").replaceChildren();
  $("messages").replaceChildren();
  for (const el of document.querySelectorAll("audio[data-publisher]")) el.remove();
  $("controls").hidden = true;
  $("chat").hidden = true;
  $("rec").hidden = true;
  $("join").hidden = false;
  $("join").querySelector("button").disabled = false;
  $("room-name").textContent = "";
  $("media").textContent = "";
  for (const id of ["mic", "cam", "screen", "record"]) setPressed(id, false);
  $("mic").textContent = "Mute mic";
  $("cam").textContent = "Stop camera";
  $("screen").textContent = "Share screen";
  $("record").textContent = "Start recording";
  setStatus("idle", "left the room");
}

// --- tiles ------------------------------------------------------------------------------------

function makeTile(label, local) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.local = String(local);
  figure.dataset.cam = "none";
  figure.dataset.mic = "none";
  figure.dataset.speaking = "false";
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays from the audio elements
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.textContent = label.slice(0, 1).toUpperCase();
  const stats = document.createElement("div");
  stats.className = "stats";
  for (const k of ["resolution", "fps", "bitrate", "layer", "path"]) {
    const span = document.createElement("span");
    span.dataset.stat = k;
    stats.append(span);
  }
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = label;
  const badges = document.createElement("span");
  badges.className = "badges";
  caption.append(name, badges);
  figure.append(video, avatar, stats, caption);
  $("videos").append(figure);
  const stream = new MediaStream();
  video.srcObject = stream;
  return { figure, video, stream, badges, stats };
}

/** The tile of a person (their camera and microphone state), made on first use. */
function personTile(s, identity, local) {
  let t = s.people.get(identity);
  if (t) return t;
  t = makeTile(local ? `${identity} (you)` : identity, local);
  t.figure.dataset.identity = identity;
  t.figure.dataset.kind = "camera";
  s.people.set(identity, t);
  renderBadges(t);
  return t;
}

function removePerson(s, identity) {
  s.people.get(identity)?.figure.remove();
  s.people.delete(identity);
  for (const [id, r] of s.remote) if (r.identity === identity) remoteTrackGone(s, id, true);
}

function renderBadges(t) {
  const { mic, cam } = t.figure.dataset;
  const list = [];
  if (mic === "muted") list.push(["mic", "mic off"]);
  if (cam === "muted") list.push(["cam", "camera off"]);
  t.badges.replaceChildren(
    ...list.map(([k, text]) => {
      const b = document.createElement("span");
      b.className = "badge";
      b.dataset.badge = k;
      b.textContent = text;
      return b;
    }),
  );
}

function setTileState(t, key, value) {
  if (!t || t.figure.dataset[key] === value) return;
  t.figure.dataset[key] = value;
  renderBadges(t);
}

// --- remote tracks ------------------------------------------------------------------------------

function remoteTrackPublished(s, t) {
  if (s.remote.has(t.publisherId)) return;
  s.remote.set(t.publisherId, { identity: t.identity, kind: t.kind, muted: t.muted === true });
  personTile(s, t.identity, false);
  s.room.subscribe(t.publisherId).catch((err) => {
    console.warn("subscribe:", err);
    showError(`Could not receive ${t.identity}'s ${t.kind}: ${err.message}`);
  });
}

/** The first video of a person is their camera; another one at the same time is a screen. */
function remoteTrackLive(s, { publisherId, identity, track }) {
  const r = s.remote.get(publisherId) ?? { identity, kind: track.kind };
  s.remote.set(publisherId, r);
  r.track = track;
  const who = r.identity ?? identity ?? "unknown";
  const person = personTile(s, who, false);
  if (track.kind === "audio") {
    const audio = document.createElement("audio");
    audio.autoplay = true;
    audio.dataset.publisher = publisherId;
    audio.srcObject = new MediaStream([track]);
    document.body.append(audio);
    r.audio = audio;
    if (person.figure.dataset.mic === "none") setTileState(person, "mic", r.muted ? "muted" : "on");
    return;
  }
  const cameraTaken = [...s.remote.entries()].some(
    ([id, x]) => id !== publisherId && x.identity === who && x.tile === person,
  );
  if (!cameraTaken && !r.screen) {
    r.tile = person;
    for (const old of person.stream.getVideoTracks()) person.stream.removeTrack(old);
    person.stream.addTrack(track);
    if (person.figure.dataset.cam === "none") setTileState(person, "cam", r.muted ? "muted" : "on");
  } else {
    r.screen = true;
    r.tile = makeTile(`${who}'s screen`, false);
    r.tile.figure.dataset.identity = who;
    r.tile.figure.dataset.kind = "screen";
    r.tile.figure.dataset.cam = "on";
    r.tile.stream.addTrack(track);
  }
  r.tile.figure.dataset.publisher = publisherId;
  addLayerPicker(s, r, publisherId);
}

function remoteTrackGone(s, publisherId, unpublished) {
  const r = s.remote.get(publisherId);
  if (!r) return;
  if (r.audio) r.audio.remove();
  r.audio = undefined;
  if (r.tile) {
    if (r.screen) r.tile.figure.remove();
    else {
      for (const v of r.tile.stream.getVideoTracks()) r.tile.stream.removeTrack(v);
      setTileState(r.tile, "cam", "none");
      r.tile.figure.querySelector("select.layer")?.remove();
      delete r.tile.figure.dataset.publisher;
    }
  }
  r.tile = undefined;
  if (unpublished) s.remote.delete(publisherId);
}

/** The SDK's trackmuted / trackunmuted (room.setMuted): the node stopped forwarding it. */
function remoteMuted(s, publisherId, identity, muted) {
  const r = s.remote.get(publisherId);
  if (r) r.muted = muted;
  const kind = r?.kind;
  if (r?.screen) return;
  const t = identity === s.room.identity ? null : s.people.get(identity);
  if (kind === "audio") setTileState(t, "mic", muted ? "muted" : "on");
  else if (kind === "video") setTileState(t, "cam", muted ? "muted" : "on");
}

/** Receive a lower layer of someone's simulcast or SVC video: the node switches at a keyframe. */
function addLayerPicker(s, r, publisherId) {
  const fig = r.tile.figure;
  fig.querySelector("select.layer")?.remove();
  const select = document.createElement("select");
  select.className = "layer";
  select.title = "the layer to receive (simulcast / SVC)";
  for (const [value, text] of [
    ["auto", "auto"],
    ["2", "high"],
    ["1", "medium"],
    ["0", "low"],
  ]) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.append(o);
  }
  select.value = r.layer ?? "auto";
  select.addEventListener("change", () => {
    r.layer = select.value;
    const layers = select.value === "auto" ? {} : { spatial: Number(select.value) };
    s.room.setPreferredLayers(publisherId, layers).catch((err) => {
      showError(`Could not change the layer: ${err.message}`);
    });
  });
  fig.append(select);
}

// --- speakers (SDK feature) ---------------------------------------------------------------------

function showSpeakers(s, speakers) {
  const speaking = new Set(speakers.map((x) => x.identity));
  for (const [identity, t] of s.people) {
    t.figure.dataset.speaking = String(speaking.has(identity));
  }
}

// --- local controls ---------------------------------------------------------------------------

function setPressed(id, on) {
  $(id).setAttribute("aria-pressed", String(on));
}

/**
 * Mutes or unmutes the microphone or camera. With the SDK's room.setMuted the node stops
 * forwarding it and everyone gets trackmuted; without, the track is disabled (silence, black
 * frames) and the others hear of it over the chat channel.
 */
async function toggleMute(s, which) {
  const local = s.local[which];
  if (!local) return;
  const muted = !s.muted[which];
  showMuted(s, which, muted);
  try {
    if (features.setMuted) await s.room.setMuted(local.track, muted);
    else local.track.enabled = !muted;
  } catch (err) {
    showMuted(s, which, !muted);
    throw new Error(`Could not ${muted ? "mute" : "unmute"}: ${err.message}`);
  }
  sendState(s);
}

/** This page's own mute state: its tile, its button. */
function showMuted(s, which, muted) {
  s.muted[which] = muted;
  setTileState(s.people.get(s.room.identity), which, muted ? "muted" : "on");
  setPressed(which, muted);
  $(which).textContent =
    which === "mic" ? (muted ? "Unmute mic" : "Mute mic") : muted ? "Start camera" : "Stop camera";
}

async function toggleScreen(s) {
  if (s.local.screen) {
    const { track, trackId } = s.local.screen;
    s.local.screen = null;
    track.stop();
    await s.room.unpublish(trackId);
    s.people.get(`${s.room.identity}#screen`)?.figure.remove();
    s.people.delete(`${s.room.identity}#screen`);
    setPressed("screen", false);
    $("screen").textContent = "Share screen";
    sendState(s);
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err?.name === "NotAllowedError") showError("Screen sharing was cancelled or not allowed.");
    else showError(`Could not share the screen: ${err?.message ?? err}`);
    return;
  }
  const [track] = stream.getVideoTracks();
  track.addEventListener("ended", () => {
    if (s.local.screen?.track === track) void toggleScreen(s);
  });
  const tile = makeTile(`${s.room.identity}'s screen (you)`, true);
  tile.figure.dataset.kind = "screen";
  tile.figure.dataset.cam = "on";
  tile.stream.addTrack(track);
  s.people.set(`${s.room.identity}#screen`, tile);
  s.local.screen = await s.room.publish(track);
  setPressed("screen", true);
  $("screen").textContent = "Stop sharing";
  sendState(s);
}

// --- recording (SDK feature) ----------------------------------------------------------------------

async function toggleRecording(s) {
  $("record").disabled = true;
  try {
    if (s.recordingId) await s.room.stopRecording(s.recordingId);
    else {
      const rec = await s.room.startRecording({});
      recordingStarted(s, rec);
    }
  } catch (err) {
    showError(`Recording: ${err.message}`);
  } finally {
    $("record").disabled = false;
  }
}

function recordingStarted(s, rec) {
  s.recordingId = rec.recordingId;
  $("rec").hidden = false;
  setPressed("record", true);
  $("record").textContent = "Stop recording";
}

function recordingStopped(s, recordingId) {
  if (s.recordingId !== recordingId) return;
  s.recordingId = null;
  $("rec").hidden = true;
  setPressed("record", false);
  $("record").textContent = "Start recording";
}

// --- chat and state over a DataChannel publication ----------------------------------------------

async function openChat(s) {
  try {
    s.chat = await s.room.publishData(CHAT_LABEL);
  } catch (err) {
    showError(`Chat is unavailable: ${err.message}`);
    $("chat-form").querySelector("button").disabled = true;
    return;
  }
  // Someone new subscribed: tell them whether this side is muted.
  s.chat.on("subscribers", () => sendState(s));
  s.chat.on("reconnected", () => sendState(s));
}

function dataPublished(s, d) {
  if (d.label !== CHAT_LABEL || s.chats.has(d.dataPublisherId)) return;
  s.chats.set(d.dataPublisherId, null);
  s.room
    .subscribeData(d.dataPublisherId)
    .then((sub) => {
      s.chats.set(d.dataPublisherId, sub);
      sub.on("message", (data) => onChatData(s, d.identity, data));
      sub.on("ended", () => s.chats.delete(d.dataPublisherId));
    })
    .catch((err) => {
      s.chats.delete(d.dataPublisherId);
      console.warn("chat subscribe:", err);
    });
}

function onChatData(s, from, data) {
  if (typeof data !== "string") return;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  if (msg.type === "chat" && typeof msg.text === "string") addChat(from, msg.text, false);
  else if (msg.type === "state" && !features.setMuted) {
    // Without the SDK's trackmuted events, this is how others learn of a mute.
    const t = s.people.get(from);
    if (t && t.figure.dataset.mic !== "none") setTileState(t, "mic", msg.mic ? "muted" : "on");
    if (t && t.figure.dataset.cam !== "none") setTileState(t, "cam", msg.cam ? "muted" : "on");
  }
}

function sendState(s) {
  if (s.chat?.readyState !== "open") return;
  s.chat.send(
    JSON.stringify({ type: "state", mic: s.muted.mic, cam: s.muted.cam, screen: !!s.local.screen }),
  );
}

function addChat(from, text, own) {
  const li = document.createElement("li");
  li.dataset.from = from;
  if (own) li.dataset.own = "true";
  const who = document.createElement("span");
  who.className = "from";
  who.textContent = own ? `${from} (you)` : from;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(who, body);
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const s = session;
  const text = $("chat-input").value.trim();
  if (!s || !text) return;
  if (s.chat?.readyState !== "open") {
    showError("The chat channel is not open (reconnecting?): try again in a moment.");
    return;
  }
  s.chat.send(JSON.stringify({ type: "chat", text }));
  addChat(s.room.identity, text, true);
  $("chat-input").value = "";
});

// --- stats ------------------------------------------------------------------------------------

function pathText(p) {
  if (!p) return "";
  const relay = p.transport === "relay" ? ` over ${p.relayProtocol}` : "";
  const rtt = p.rttMs != null ? `, ${Math.round(p.rttMs)} ms` : "";
  return `${p.transport}${relay}${rtt}`;
}

function setStat(t, key, text) {
  const el = t.stats.querySelector(`[data-stat="${key}"]`);
  if (el && el.textContent !== text) el.textContent = text;
}

function kbps(s, key, bytes, now) {
  const last = s.lastBytes.get(key);
  s.lastBytes.set(key, { bytes, now });
  if (!last || now <= last.now) return null;
  return Math.round(((bytes - last.bytes) * 8) / (now - last.now)); // bits per ms = kbit/s
}

const LAYER_NAMES = { auto: "auto", 2: "high", 1: "medium", 0: "low" };

async function updateStats(s) {
  if (session !== s) return;
  const media = s.room.mediaConnection;
  $("media").textContent = media ? `media: ${pathText(media)}` : "";
  const subPc = s.room.subscribeTransport?.peerConnection;
  const pubPc = s.room.publishTransport?.peerConnection;
  const now = performance.now();
  if (subPc) {
    const report = await subPc.getStats();
    for (const st of report.values()) {
      if (st.type !== "inbound-rtp" || st.kind !== "video") continue;
      const entry = [...s.remote.entries()].find(([, r]) => r.track?.id === st.trackIdentifier);
      if (!entry?.[1].tile) continue;
      const [publisherId, r] = entry;
      const t = r.tile;
      const rate = kbps(s, `in:${publisherId}`, st.bytesReceived ?? 0, now);
      setStat(t, "resolution", st.frameWidth ? `${st.frameWidth}×${st.frameHeight}` : "no video");
      setStat(t, "fps", st.framesPerSecond != null ? `${Math.round(st.framesPerSecond)} fps` : "");
      if (rate !== null) setStat(t, "bitrate", `${rate} kbit/s`);
      const codec = report.get(st.codecId)?.mimeType?.split("/")[1] ?? "";
      setStat(t, "layer", `${codec} layer ${LAYER_NAMES[r.layer ?? "auto"]}`.trim());
      setStat(t, "path", pathText(media?.subscribe ?? media));
    }
  }
  if (pubPc) {
    const report = await pubPc.getStats();
    const out = new Map(); // track id -> { width, height, fps, bytes, layers }
    for (const st of report.values()) {
      if (st.type !== "outbound-rtp" || st.kind !== "video") continue;
      const source = report.get(st.mediaSourceId);
      const id = source?.trackIdentifier ?? st.mid;
      const o = out.get(id) ?? { width: 0, height: 0, fps: 0, bytes: 0, layers: 0 };
      o.bytes += st.bytesSent ?? 0;
      if (st.frameWidth) o.layers++;
      if ((st.frameWidth ?? 0) > o.width) {
        o.width = st.frameWidth;
        o.height = st.frameHeight;
        o.fps = st.framesPerSecond ?? 0;
      }
      out.set(id, o);
    }
    for (const [which, key] of [
      ["cam", s.room.identity],
      ["screen", `${s.room.identity}#screen`],
    ]) {
      const local = s.local[which];
      const t = s.people.get(key);
      const o = local && out.get(local.track.id);
      if (!t || !o) continue;
      const rate = kbps(s, `out:${which}`, o.bytes, now);
      setStat(t, "resolution", o.width ? `${o.width}×${o.height}` : "no video");
      setStat(t, "fps", `${Math.round(o.fps)} fps`);
      if (rate !== null) setStat(t, "bitrate", `${rate} kbit/s sent`);
      setStat(t, "layer", o.layers > 1 ? `${o.layers} layers` : "1 layer");
      setStat(t, "path", pathText(media?.publish ?? media));
    }
  }
}

// --- wiring the controls ------------------------------------------------------------------------

function guarded(fn) {
  return () => {
    const s = session;
    if (!s) return;
    fn(s).catch((err) => showError(err.message));
  };
}

$("mic").addEventListener(
  "click",
  guarded((s) => toggleMute(s, "mic")),
);
$("cam").addEventListener(
  "click",
  guarded((s) => toggleMute(s, "cam")),
);
$("screen").addEventListener("click", guarded(toggleScreen));
$("record").addEventListener("click", guarded(toggleRecording));
$("leave").addEventListener("click", () => void leave());

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  $("error").hidden = true;
  $("join").querySelector("button").disabled = true;
  join($("room").value, $("identity").value, $("simulcast").checked).catch((err) => {
    console.warn("join:", err);
    const s = session;
    session = null;
    if (s) {
      clearInterval(s.statsTimer);
      void s.room.close();
    }
    $("videos").replaceChildren();
    $("controls").hidden = true;
    $("chat").hidden = true;
    $("join").hidden = false;
    setStatus("error", "not connected");
    showError(err.message);
    $("join").querySelector("button").disabled = false;
  });
});
