import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_LAYER } from "../../media-node/src/layers/LayerSelector.ts";
import { wantedLayers } from "../../media-node/src/relay/DownstreamRelay.ts";

/** One subscriber's layer state: preferring `spatial`, sending `current` (-1: nothing yet). */
function sub(
  spatial: number,
  o: { temporal?: number; current?: number; limit?: number; paused?: boolean } = {},
) {
  return {
    paused: o.paused ?? false,
    preferredLayers: { spatial, temporal: o.temporal ?? MAX_LAYER },
    currentLayers: { spatial: o.current ?? -1, temporal: 0 },
    layerLimit: o.limit ?? MAX_LAYER,
  };
}

describe("wantedLayers (what a downstream node asks the origin to relay)", () => {
  it("relays only the encodings preferred, capped at the publisher's count", () => {
    const w = wantedLayers([sub(0, { temporal: 1 }), sub(2, { temporal: 0 })], 3);
    assert.deepEqual(w, { spatial: 2, temporal: 1, encodings: [0, 2] });
    assert.deepEqual(wantedLayers([sub(MAX_LAYER)], 3).encodings, [2]);
    assert.deepEqual(wantedLayers([sub(1), sub(1)], 3).encodings, [1]);
  });

  it("adds the encoding above a feedback-limited subscriber's pick, and no more", () => {
    assert.deepEqual(wantedLayers([sub(2, { limit: 0 })], 3).encodings, [0, 1]);
    assert.deepEqual(wantedLayers([sub(MAX_LAYER, { limit: 1 })], 3).encodings, [1, 2]);
    // A limit at or above the preference changes nothing.
    assert.deepEqual(wantedLayers([sub(1, { limit: 2 })], 3).encodings, [1]);
  });

  it("keeps a switching subscriber's current encoding until it has switched", () => {
    assert.deepEqual(wantedLayers([sub(0, { current: 2 })], 3).encodings, [0, 2]);
    // Switched: the old encoding is no longer wanted.
    assert.deepEqual(wantedLayers([sub(0, { current: 0 })], 3).encodings, [0]);
    // Limited and still on the old one: pick, the one above, and the current.
    assert.deepEqual(wantedLayers([sub(2, { limit: 0, current: 2 })], 3).encodings, [0, 1, 2]);
  });

  it("ignores paused subscribers", () => {
    const w = wantedLayers([sub(2, { paused: true, current: 2 }), sub(0, { temporal: 0 })], 3);
    assert.deepEqual(w, { spatial: 0, temporal: 0, encodings: [0] });
    assert.deepEqual(wantedLayers([sub(1, { paused: true })], 3), {
      spatial: 0,
      temporal: 0,
      encodings: [],
    });
  });

  it("without simulcast: the single encoding, and the highest SVC layers preferred", () => {
    const w = wantedLayers([sub(1, { temporal: 2, limit: 0 }), sub(MAX_LAYER, { temporal: 0 })], 1);
    assert.deepEqual(w, { spatial: MAX_LAYER, temporal: 2, encodings: [0] });
    assert.deepEqual(wantedLayers([sub(0, { temporal: 1, current: 0 })], 1), {
      spatial: 0,
      temporal: 1,
      encodings: [0],
    });
  });
});
