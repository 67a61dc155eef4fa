/**
 * The recordings of one media node: starts them on the node that hosts the tracks (forwarding a
 * request there when it is another node), runs SDK `Recorder`s for them, tells the room when one
 * starts and stops, and keeps the finished ones for listing (bounded).
 */
import { mkdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { WeirApiError } from "../../shared/errors.ts";
import type {
  ActiveRecording,
  RecordedTrackInfo,
  RecordingEndReason,
  RecordingFileInfo,
  RecordingInfo,
  RecordingLayout,
  RecordingRequest,
} from "../../shared/recording.ts";
import { recordingNode } from "../../shared/recording.ts";
import type { ParticipantInfo, RoomEvent } from "../../shared/room.ts";
import { newId } from "../src/ids.ts";
import type { Publisher } from "../src/Publisher.ts";
import { Recorder } from "../src/recording/Recorder.ts";
import type { LocalRoom } from "./LocalRoom.ts";
import { errorFields, type Logger } from "./log.ts";

/** Where a node's recordings go, and how much disk must stay free for a new one. */
export interface RecordingsConfig {
  /** Files go to `<directory>/<room>/`; unset: recording is off on this node. */
  directory?: string;
  /** A recording does not start with less free space than this (default 64 MiB). */
  minFreeBytes?: number;
  /** How long a hole waits for NACK repair (default: the Recorder's). */
  repairWaitMs?: number;
}

/** The rest of the room, on other nodes (NodeService fills it in; absent on a lone node). */
export interface RecordingPeers {
  /** Other nodes' participants of `room`, by node id. */
  participantsByNode(room: string): Map<string, ParticipantInfo[]>;
  /** Makes another node's publisher a Publisher of this node's router (a relay). */
  bringLocal(room: string, publisherId: string): Promise<void>;
  start(
    nodeId: string,
    r: { room: string; startedBy: string; layout: RecordingLayout; publisherIds: string[] },
  ): Promise<RecordingInfo>;
  stop(nodeId: string, recordingId: string, room?: string): Promise<RecordingInfo>;
  /** The recordings of `room` on every other live node (nodes that do not answer are left out). */
  list(room: string): Promise<RecordingInfo[]>;
}

export interface RecordingsHost {
  nodeId: string;
  log: Logger;
  room(name: string): LocalRoom | undefined;
  /** Raises a room event (this node's sessions and the other nodes). */
  roomEvent(room: string, event: RoomEvent): void;
  /** A recording ended (for webhooks). */
  finished?(info: RecordingInfo): void;
  peers?: RecordingPeers;
}

/** What a Recorder writes (lower-case MIME types). */
const RECORDABLE = new Set(["video/vp8", "video/vp9", "video/av1", "video/h264", "audio/opus"]);

export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;
/** Finished recordings kept for listing; older ones are forgotten (their files stay). */
const HISTORY = 256;

interface Candidate extends RecordedTrackInfo {
  nodeId: string;
}

/** One recording on this node. */
class NodeRecording {
  readonly info: RecordingInfo;
  readonly recorders: Recorder[] = [];
  readonly publishers: Publisher[];
  #reason: RecordingEndReason | null = null;
  #done: Promise<void> | null = null;
  #resolveDone!: () => void;
  readonly closed: Promise<void>;

  constructor(info: RecordingInfo, publishers: Publisher[]) {
    this.info = info;
    this.publishers = publishers;
    this.closed = new Promise((r) => {
      this.#resolveDone = r;
    });
  }

  get active(): boolean {
    return this.info.status === "starting" || this.info.status === "recording";
  }

  event(): ActiveRecording {
    const { recordingId, layout, tracks } = this.info;
    return {
      type: "recording.started",
      recordingId,
      layout,
      participants: [...new Set(tracks.map((t) => t.identity))],
      publisherIds: tracks.map((t) => t.publisherId),
    };
  }

  /** Stops every recorder; the first reason given is the one reported. */
  stop(reason: RecordingEndReason): Promise<void> {
    this.#reason ??= reason;
    this.#done ??= Promise.all(this.recorders.map((r) => r.stop())).then(() => undefined);
    return this.#done;
  }

  get reason(): RecordingEndReason {
    return this.#reason ?? "unpublished";
  }

  settle(): void {
    this.#resolveDone();
  }

  /** Files with their size on disk now and the media time written. */
  refreshFiles(): void {
    const files: RecordingFileInfo[] = [];
    for (const rec of this.recorders) {
      const stats = rec.getStats().tracks;
      for (const f of rec.files) {
        let bytes = 0;
        try {
          bytes = statSync(f.path).size;
        } catch {
          // removed or never written
        }
        const ids = f.tracks.map((t) => t.publisherId);
        const durationS = Math.max(
          0,
          ...stats.filter((s) => s.path === f.path).map((s) => s.durationS),
        );
        files.push({ path: f.path, publisherIds: ids, bytes, durationS });
      }
    }
    this.info.files = files;
  }
}

export class Recordings {
  readonly config: RecordingsConfig;
  readonly #host: RecordingsHost;
  readonly #byId = new Map<string, NodeRecording>();
  /** Publisher id -> the active recording that has it (one recording per track). */
  readonly #recorded = new Map<Publisher, NodeRecording>();
  #closing = false;

  constructor(config: RecordingsConfig, host: RecordingsHost) {
    this.config = config;
    this.#host = host;
  }

  /** Recordings running in `room` on this node (welcome, snapshots). */
  active(room: string): ActiveRecording[] {
    return [...this.#byId.values()]
      .filter((r) => r.active && r.info.room === room)
      .map((r) => r.event());
  }

  /**
   * A start request from a client (edge or WebSocket): which tracks, on which node. Runs here
   * when this node hosts the most of them, else on the node that does.
   */
  async start(room: string, startedBy: string, req: RecordingRequest): Promise<RecordingInfo> {
    const layout = req.layout ?? "track";
    const chosen = this.#select(room, req);
    const count = new Map<string, number>();
    for (const c of chosen) count.set(c.nodeId, (count.get(c.nodeId) ?? 0) + 1);
    let host = this.#host.nodeId;
    for (const [nodeId, n] of count) if (n > (count.get(host) ?? 0)) host = nodeId;
    const publisherIds = chosen.map((c) => c.publisherId);
    if (host === this.#host.nodeId) return this.startHere(room, startedBy, layout, publisherIds);
    const peers = this.#host.peers;
    if (!peers) throw new WeirApiError("internal", "no route to the node hosting the tracks");
    return peers.start(host, { room, startedBy, layout, publisherIds });
  }

  /** Starts a recording of these publishers on this node (others come through relays). */
  async startHere(
    roomName: string,
    startedBy: string,
    layout: RecordingLayout,
    publisherIds: string[],
  ): Promise<RecordingInfo> {
    const dir = this.config.directory;
    if (dir === undefined) {
      throw new WeirApiError(
        "recording_disabled",
        `recording is off on media node ${this.#host.nodeId}: set WEIR_RECORDINGS_DIR (--recordings-dir)`,
      );
    }
    if (this.#closing) throw new WeirApiError("draining", "this media node is stopping");
    if (new Set(publisherIds).size !== publisherIds.length) {
      throw new WeirApiError("bad_request", "a track is listed twice");
    }
    const room = this.#host.room(roomName);
    if (!room) throw new WeirApiError("room_not_found", `room ${roomName} is not on this node`);
    const publishers: Publisher[] = [];
    for (const id of publisherIds) {
      if (!room.router.getPublisher(id)) await this.#host.peers?.bringLocal(roomName, id);
      const p = room.router.getPublisher(id);
      if (!p || p.closed) throw new WeirApiError("not_found", `no track ${id} in room ${roomName}`);
      publishers.push(p);
    }
    for (const p of publishers) {
      const other = this.#recorded.get(p);
      if (other) {
        throw new WeirApiError(
          "conflict",
          `track ${p.id} is already being recorded by ${other.info.recordingId}`,
        );
      }
    }
    const owners = this.#owners(roomName);
    const tracks: RecordedTrackInfo[] = publishers.map((p) => ({
      publisherId: p.id,
      identity: owners.get(p.id) ?? "",
      kind: p.kind,
      mimeType: p.codec.mimeType,
    }));
    for (const t of tracks) {
      const codec = t.mimeType.toLowerCase();
      if (!RECORDABLE.has(codec)) {
        throw new WeirApiError(
          "bad_request",
          `track ${t.publisherId} is ${t.mimeType}: recording takes VP8, VP9, AV1, H.264 and Opus`,
        );
      }
    }
    const directory = join(dir, roomName);
    this.#checkDisk(directory);
    const localId = newId("rec");
    const info: RecordingInfo = {
      recordingId: `${this.#host.nodeId}.${localId}`,
      room: roomName,
      nodeId: this.#host.nodeId,
      layout,
      status: "starting",
      tracks,
      files: [],
      startedBy,
      startedAt: Date.now(),
    };
    const rec = new NodeRecording(info, publishers);
    // one Recorder per participant (their tracks in one file), or one for all (a file per track)
    const groups = new Map<string, Publisher[]>();
    for (const p of publishers) {
      const who = layout === "participant" ? (owners.get(p.id) ?? p.id) : "";
      groups.set(who, [...(groups.get(who) ?? []), p]);
    }
    try {
      for (const [who, group] of groups) {
        const recorder = new Recorder({
          publishers: group,
          directory,
          layout,
          id: who === "" ? localId : `${localId}-${who}`,
          ...(this.config.repairWaitMs !== undefined
            ? { repairWaitMs: this.config.repairWaitMs }
            : {}),
        });
        rec.recorders.push(recorder);
        recorder.on("filecreated", () => {
          if (info.status === "starting") info.status = "recording";
        });
        recorder.on("error", (e) => this.#failed(rec, e));
        recorder.on("closed", () => this.#recorderClosed(rec));
      }
    } catch (err) {
      await rec.stop("stopped");
      throw err;
    }
    this.#byId.set(info.recordingId, rec);
    for (const p of publishers) this.#recorded.set(p, rec);
    this.#host.log.info("recording started", {
      recording: info.recordingId,
      room: roomName,
      tracks: publisherIds,
      layout,
    });
    this.#host.roomEvent(roomName, rec.event());
    return this.#snapshot(rec);
  }

  /** Stops a recording here or on its node; a finished one is returned as it ended. */
  async stop(recordingId: string, room?: string): Promise<RecordingInfo> {
    const nodeId = recordingNode(recordingId);
    if (nodeId !== null && nodeId !== this.#host.nodeId) {
      const peers = this.#host.peers;
      if (!peers) throw new WeirApiError("not_found", `no recording ${recordingId}`);
      return peers.stop(nodeId, recordingId, room);
    }
    const rec = this.#byId.get(recordingId);
    if (!rec || (room !== undefined && rec.info.room !== room)) {
      throw new WeirApiError("not_found", `no recording ${recordingId}`);
    }
    if (rec.active) {
      await rec.stop("stopped");
      await rec.closed;
    }
    return this.#snapshot(rec);
  }

  /** This node's recordings of `room`, running and finished. */
  listHere(room: string): RecordingInfo[] {
    return [...this.#byId.values()]
      .filter((r) => r.info.room === room)
      .map((r) => this.#snapshot(r));
  }

  /** Every node's recordings of `room`. */
  async list(room: string): Promise<RecordingInfo[]> {
    const others = (await this.#host.peers?.list(room)) ?? [];
    return [...this.listHere(room), ...others].sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Stops every recording (the node is stopping); files are finished. */
  async close(): Promise<void> {
    this.#closing = true;
    const running = [...this.#byId.values()].filter((r) => r.active);
    await Promise.all(running.map((r) => r.stop("node_stopped").then(() => r.closed)));
  }

  /**
   * The tracks a request names, with the node hosting each: `trackIds`, a participant's tracks,
   * or every track of the room. Not found: a clear 404, and nothing starts.
   */
  #select(room: string, req: RecordingRequest): Candidate[] {
    const local = this.#host.room(room);
    const byNode = this.#host.peers?.participantsByNode(room) ?? new Map();
    if (!local) throw new WeirApiError("room_not_found", `room ${room} is not on this node`);
    const all: Candidate[] = [];
    const add = (nodeId: string, ps: ParticipantInfo[]) => {
      for (const p of ps)
        for (const t of p.tracks) all.push({ ...t, identity: p.identity, nodeId });
    };
    add(this.#host.nodeId, local.participants());
    for (const [nodeId, ps] of byNode) add(nodeId, ps);
    if (req.trackIds) {
      return req.trackIds.map((id) => {
        const c = all.find((x) => x.publisherId === id);
        if (!c) throw new WeirApiError("not_found", `no track ${id} in room ${room}`);
        return c;
      });
    }
    if (req.participant !== undefined) {
      const who = req.participant;
      const present =
        local.participants().some((p) => p.identity === who) ||
        [...byNode.values()].some((ps) => ps.some((p: ParticipantInfo) => p.identity === who));
      if (!present) throw new WeirApiError("not_found", `no participant ${who} in room ${room}`);
      const theirs = all.filter((c) => c.identity === who);
      if (theirs.length === 0) {
        throw new WeirApiError("not_found", `${who} publishes no track in room ${room}`);
      }
      return theirs;
    }
    if (all.length === 0) throw new WeirApiError("not_found", `nothing is published in ${room}`);
    return all;
  }

  /** Publisher id -> identity, for this node's participants and the room's other nodes. */
  #owners(room: string): Map<string, string> {
    const out = new Map<string, string>();
    const put = (ps: ParticipantInfo[]) => {
      for (const p of ps) for (const t of p.tracks) out.set(t.publisherId, p.identity);
    };
    put(this.#host.room(room)?.participants() ?? []);
    for (const ps of this.#host.peers?.participantsByNode(room).values() ?? []) put(ps);
    return out;
  }

  /** Refuses a recording the disk has no room for (507), or a directory it cannot make. */
  #checkDisk(directory: string): void {
    try {
      mkdirSync(directory, { recursive: true });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOSPC") {
        throw new WeirApiError("insufficient_storage", `no space left for ${directory}`);
      }
      throw new WeirApiError("internal", `cannot make ${directory}: ${e.code ?? e.message}`);
    }
    const min = this.config.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
    let free: number;
    try {
      const s = statfsSync(directory);
      free = s.bavail * s.bsize;
    } catch {
      return; // no statfs here: the writes will tell
    }
    if (free < min) {
      throw new WeirApiError(
        "insufficient_storage",
        `only ${Math.floor(free / 1024)} KiB free under ${directory} (a recording needs ${Math.floor(min / 1024)} KiB)`,
      );
    }
  }

  #failed(rec: NodeRecording, e: Error): void {
    if (!rec.active) return;
    const code = (e as { code?: string }).code ?? "write_failed";
    rec.info.status = "failed";
    rec.info.error = { code, message: e.message };
    this.#host.log.warn("recording failed", { recording: rec.info.recordingId, ...errorFields(e) });
    void rec.stop("write_failed");
  }

  /** A recorder closed (stopped, its publishers left, or failed): the last one ends it. */
  #recorderClosed(rec: NodeRecording): void {
    if (this.#byId.get(rec.info.recordingId) !== rec) return; // never started
    if (!rec.recorders.every((r) => r.state === "closed")) return;
    if (rec.info.stoppedAt !== undefined) return;
    const reason = rec.reason;
    if (rec.info.status !== "failed") rec.info.status = "stopped";
    rec.info.stoppedAt = Date.now();
    rec.info.reason = reason;
    rec.refreshFiles();
    for (const p of rec.publishers) if (this.#recorded.get(p) === rec) this.#recorded.delete(p);
    this.#forgetOld();
    const { recordingId, room } = rec.info;
    this.#host.log.info("recording stopped", {
      recording: recordingId,
      reason,
      files: rec.info.files.map((f) => f.path),
    });
    this.#host.roomEvent(room, { type: "recording.stopped", recordingId, reason });
    try {
      this.#host.finished?.(this.#snapshot(rec));
    } catch (err) {
      this.#host.log.warn("recording finished hook failed", errorFields(err));
    }
    rec.settle();
  }

  #forgetOld(): void {
    const done = [...this.#byId.values()].filter((r) => !r.active);
    for (const r of done.slice(0, Math.max(0, done.length - HISTORY))) {
      this.#byId.delete(r.info.recordingId);
    }
  }

  /** A copy of the info with fresh file sizes (a running recording's grow). */
  #snapshot(rec: NodeRecording): RecordingInfo {
    if (rec.active) rec.refreshFiles();
    return structuredClone(rec.info);
  }
}
