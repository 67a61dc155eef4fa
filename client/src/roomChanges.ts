import type { ParticipantInfo, TrackInfo } from "../../shared/room.ts";
import type { PublishedData } from "./DataTypes.ts";
import type { PublishedTrack } from "./RoomTypes.ts";

/**
 * What changed in a room between two views of its participants (the last one a Room had, and
 * the `welcome` of its reconnect): while the Room was away, others may have left, joined, or
 * published again under new ids. The Room emits these as the events it would have emitted had
 * it been there, so an app that subscribes on `trackpublished` keeps receiving everyone.
 */
export interface RoomChanges {
  left: string[];
  joined: string[];
  unpublished: { publisherId: string; identity: string }[];
  published: PublishedTrack[];
  dataUnpublished: { dataPublisherId: string; identity: string }[];
  dataPublished: PublishedData[];
}

export function roomChanges(
  before: Iterable<ParticipantInfo>,
  after: Iterable<ParticipantInfo>,
): RoomChanges {
  const was = new Map([...before].map((p) => [p.identity, p]));
  const now = new Map([...after].map((p) => [p.identity, p]));
  const out: RoomChanges = {
    left: [],
    joined: [],
    unpublished: [],
    published: [],
    dataUnpublished: [],
    dataPublished: [],
  };
  for (const [identity, p] of was) {
    const next = now.get(identity);
    const tracks = new Set(next?.tracks.map((t) => t.publisherId));
    const data = new Set(next?.data?.map((d) => d.dataPublisherId));
    for (const t of p.tracks)
      if (!tracks.has(t.publisherId))
        out.unpublished.push({ publisherId: t.publisherId, identity });
    for (const d of p.data ?? [])
      if (!data.has(d.dataPublisherId))
        out.dataUnpublished.push({ dataPublisherId: d.dataPublisherId, identity });
    if (!next) out.left.push(identity);
  }
  for (const [identity, p] of now) {
    const prev = was.get(identity);
    if (!prev) out.joined.push(identity);
    const tracks = new Set(prev?.tracks.map((t) => t.publisherId));
    const data = new Set(prev?.data?.map((d) => d.dataPublisherId));
    for (const t of p.tracks)
      if (!tracks.has(t.publisherId)) out.published.push(published(t, identity));
    for (const d of p.data ?? [])
      if (!data.has(d.dataPublisherId)) out.dataPublished.push({ ...d, identity });
  }
  return out;
}

function published(t: TrackInfo, identity: string): PublishedTrack {
  const { publisherId, kind, mimeType } = t;
  return { identity, publisherId, kind, mimeType, ...(t.muted === true ? { muted: true } : {}) };
}
