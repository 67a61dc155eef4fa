import * as z from "zod/mini";
import { RecordingInfo } from "./recording.ts";
import { MediaKind } from "./room.ts";

/**
 * Webhooks: what media nodes POST to the application's URLs (`WEIR_WEBHOOK_URLS`). The body is
 * one JSON WebhookEvent; the `Weir-Signature` header is `sha256=` and the hex HMAC-SHA256 of the
 * raw body with the shared secret (`WEIR_WEBHOOK_SECRET`). A receiver checks it in three lines:
 *
 *   const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`);
 *   const given = Buffer.from(req.headers["weir-signature"] ?? "");
 *   if (given.length !== expected.length || !timingSafeEqual(given, expected)) return res.writeHead(401).end();
 */

export const WEBHOOK_EVENTS = [
  "room.started",
  "room.finished",
  "participant.joined",
  "participant.left",
  "track.published",
  "track.unpublished",
  "recording.finished",
] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** The header carrying `sha256=<hex HMAC-SHA256 of the body>`. */
export const WEBHOOK_SIGNATURE_HEADER = "weir-signature";
/** The header carrying the event's `id` (the same on every retry of it). */
export const WEBHOOK_ID_HEADER = "weir-event-id";

/** A finished recording, as `GET /v1/rooms/:room/recordings` lists it. */
export const WebhookRecording = RecordingInfo;
export type WebhookRecording = RecordingInfo;

export const WebhookEvent = z.object({
  /** Unique per event; retries of one event keep it (receivers can drop repeats by it). */
  id: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  room: z.string(),
  /** The media node that sent it. */
  nodeId: z.string(),
  /**
   * Increasing per room and sending node (it may skip numbers): events of one room from one
   * node are delivered one at a time in this order.
   */
  seq: z.number().check(z.int(), z.gte(1)),
  /** When it happened, ms since the epoch. */
  createdAt: z.number(),
  /** participant.* and track.* */
  participant: z.optional(z.object({ identity: z.string() })),
  /** track.*: kind and mimeType as published. */
  track: z.optional(
    z.object({
      publisherId: z.string(),
      kind: z.optional(MediaKind),
      mimeType: z.optional(z.string()),
    }),
  ),
  /** recording.finished */
  recording: z.optional(WebhookRecording),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;
