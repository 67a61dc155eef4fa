import type { ActiveRecording } from "../../../shared/recording.ts";
import type {
  DataChannelInfo,
  ParticipantInfo,
  RoomEvent,
  TrackInfo,
} from "../../../shared/room.ts";

interface Member {
  tracks: Map<string, TrackInfo>;
  data: Map<string, DataChannelInfo>;
}

/**
 * One other node's part of a room, as this node mirrors it: who is there with which tracks and
 * DataChannels, and where its event stream stands (`epoch`, `seq`). Pure state: RoomDirectory
 * feeds it events and snapshots and delivers what it returns.
 */
export class RoomView {
  epoch: string;
  /** The seq of the last event applied (or of the snapshot). */
  seq = 0;
  /** False while a snapshot is awaited; events then wait in `pending`. */
  synced: boolean;
  pending: { seq: number; event: RoomEvent }[] = [];
  readonly #members = new Map<string, Member>();
  /** Recordings running on that node. */
  readonly #recordings = new Map<string, ActiveRecording>();

  constructor(epoch: string, synced: boolean) {
    this.epoch = epoch;
    this.synced = synced;
  }

  get empty(): boolean {
    return this.#members.size === 0 && this.#recordings.size === 0;
  }

  /** Applies one event; false when it changes nothing here (a repeat). */
  apply(e: RoomEvent): boolean {
    if (e.type === "recording.started") {
      if (this.#recordings.has(e.recordingId)) return false;
      this.#recordings.set(e.recordingId, e);
      return true;
    }
    if (e.type === "recording.stopped") return this.#recordings.delete(e.recordingId);
    const m = this.#members.get(e.identity);
    switch (e.type) {
      case "participant.joined":
        if (m) return false;
        this.#members.set(e.identity, { tracks: new Map(), data: new Map() });
        return true;
      case "participant.left":
        return this.#members.delete(e.identity);
      case "track.published": {
        const { type: _t, identity: _i, ...info } = e;
        this.#member(e.identity).tracks.set(e.publisherId, info);
        return true;
      }
      case "track.unpublished":
        return m?.tracks.delete(e.publisherId) ?? false;
      case "track.muted":
      case "track.unmuted": {
        const t = m?.tracks.get(e.publisherId);
        const muted = e.type === "track.muted";
        if (!t || (t.muted === true) === muted) return false;
        m?.tracks.set(e.publisherId, withMuted(t, muted));
        return true;
      }
      case "data.published": {
        const { type: _t, identity: _i, ...info } = e;
        this.#member(e.identity).data.set(e.dataPublisherId, info);
        return true;
      }
      case "data.unpublished":
        return m?.data.delete(e.dataPublisherId) ?? false;
      default:
        return false;
    }
  }

  /** Replaces everything with a snapshot; returns the events that turn the old state into it. */
  replace(participants: ParticipantInfo[], recordings: ActiveRecording[] = []): RoomEvent[] {
    const next = new Map<string, ParticipantInfo>(participants.map((p) => [p.identity, p]));
    const out: RoomEvent[] = [];
    const running = new Set(recordings.map((r) => r.recordingId));
    for (const id of this.#recordings.keys())
      if (!running.has(id))
        out.push({ type: "recording.stopped", recordingId: id, reason: "node_stopped" });
    for (const r of recordings) if (!this.#recordings.has(r.recordingId)) out.push(r);
    this.#recordings.clear();
    for (const r of recordings) this.#recordings.set(r.recordingId, r);
    for (const [identity, m] of this.#members) {
      const p = next.get(identity);
      for (const id of m.tracks.keys())
        if (!p?.tracks.some((t) => t.publisherId === id))
          out.push({ type: "track.unpublished", identity, publisherId: id });
      for (const id of m.data.keys())
        if (!p?.data?.some((d) => d.dataPublisherId === id))
          out.push({ type: "data.unpublished", identity, dataPublisherId: id });
      if (!p) out.push({ type: "participant.left", identity });
    }
    for (const p of participants) {
      const m = this.#members.get(p.identity);
      if (!m) out.push({ type: "participant.joined", identity: p.identity });
      for (const t of p.tracks) {
        const had = m?.tracks.get(t.publisherId);
        if (!had) out.push({ type: "track.published", identity: p.identity, ...t });
        else if ((had.muted === true) !== (t.muted === true))
          out.push({
            type: t.muted ? "track.muted" : "track.unmuted",
            identity: p.identity,
            publisherId: t.publisherId,
          });
      }
      for (const d of p.data ?? [])
        if (!m?.data.has(d.dataPublisherId))
          out.push({ type: "data.published", identity: p.identity, ...d });
    }
    this.#members.clear();
    for (const p of participants) {
      this.#members.set(p.identity, {
        tracks: new Map(p.tracks.map((t) => [t.publisherId, t])),
        data: new Map((p.data ?? []).map((d) => [d.dataPublisherId, d])),
      });
    }
    return out;
  }

  participants(): ParticipantInfo[] {
    return [...this.#members].map(([identity, m]) => {
      const info: ParticipantInfo = { identity, tracks: [...m.tracks.values()] };
      if (m.data.size > 0) info.data = [...m.data.values()];
      return info;
    });
  }

  /** Recordings running on that node. */
  recordings(): ActiveRecording[] {
    return [...this.#recordings.values()];
  }

  /** Whether a track (`"media"`) or a DataChannel (`"data"`) with this id is published here. */
  kindOf(publisherId: string): "media" | "data" | undefined {
    for (const m of this.#members.values()) {
      if (m.tracks.has(publisherId)) return "media";
      if (m.data.has(publisherId)) return "data";
    }
    return undefined;
  }

  #member(identity: string): Member {
    let m = this.#members.get(identity);
    if (!m) {
      m = { tracks: new Map(), data: new Map() };
      this.#members.set(identity, m);
    }
    return m;
  }
}

/** The track's info with `muted` present only while it is muted (the wire form). */
export function withMuted(t: TrackInfo, muted: boolean): TrackInfo {
  const { muted: _m, ...rest } = t;
  return muted ? { ...rest, muted: true } : rest;
}
