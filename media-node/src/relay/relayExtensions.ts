import { EXT_URI } from "../headerExtensions.ts";
import type { MediaKind } from "../PublisherTypes.ts";

/**
 * Header extensions on the relay leg, with fixed ids (both nodes run this code): the ones
 * subscribers get, so the downstream publisher can map them onto its subscribers by URI.
 */
export const RELAY_EXTENSIONS: Record<MediaKind, readonly { id: number; uri: string }[]> = {
  audio: [{ id: 1, uri: EXT_URI.audioLevel }],
  video: [
    { id: 2, uri: EXT_URI.videoOrientation },
    { id: 3, uri: EXT_URI.dependencyDescriptor },
  ],
};
