import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Grant } from "../../shared/token.ts";
import type { ClientMessage } from "../../shared/ws.ts";
import { grantsFor, missingGrant, nodeChecks } from "../../shared/wsGrants.ts";

const id = "r1";
const SDP = "v=0";
/** Every client message type, with the grants that may send it (any one of them). */
const TABLE: [ClientMessage, Grant[] | null][] = [
  [{ type: "publish", id, offer: SDP, trackIds: ["t"] }, ["publish"]],
  [{ type: "publish", id, offer: SDP, trackIds: [] }, ["publish", "data"]],
  [{ type: "unpublish", id, offer: SDP, trackId: "t" }, ["publish"]],
  [{ type: "subscribe", id, publisherId: "p" }, ["subscribe"]],
  [{ type: "unsubscribe", id, subscriberId: "s" }, ["subscribe"]],
  [{ type: "answer", id, answer: SDP }, ["subscribe", "data"]],
  [{ type: "ice", target: "publish", candidate: null }, ["publish", "data"]],
  [{ type: "ice", target: "subscribe", candidate: null }, ["subscribe", "data"]],
  [{ type: "ping", id }, null],
  [{ type: "token", id, token: "t" }, null],
  [{ type: "publishData", id, label: "chat" }, ["data"]],
  [{ type: "unpublishData", id, dataPublisherId: "d" }, ["data"]],
  [{ type: "subscribeData", id, dataPublisherId: "d" }, ["data"]],
  [{ type: "unsubscribeData", id, dataSubscriberId: "d" }, ["data"]],
  [{ type: "layers", id, subscriberId: "s", spatial: 0 }, ["subscribe"]],
];
const ALL: Grant[] = ["publish", "subscribe", "data", "admin"];

describe("WebSocket message grants (the table edge and node share)", () => {
  it("names the grants of every client message type", () => {
    for (const [m, grants] of TABLE) assert.deepEqual(grantsFor(m), grants, m.type);
  });

  it("passes a token with any one of them and names what another token lacks", () => {
    for (const [m, grants] of TABLE) {
      for (const g of ALL) {
        const ok = grants === null || grants.includes(g);
        assert.equal(missingGrant(m, [g]) === null, ok, `${m.type} with ${g}`);
        assert.equal(missingGrant(m, new Set([g])) === null, ok, `${m.type} with {${g}}`);
      }
      assert.equal(missingGrant(m, []) === null, grants === null, `${m.type} with none`);
    }
    const subscribe = TABLE[3][0];
    assert.equal(missingGrant(subscribe, ["admin"]), 'token lacks the "subscribe" grant');
  });

  it("the node checks again all but what acts on what a session already holds", () => {
    const skipped = TABLE.filter(([m]) => !nodeChecks(m)).map(([m]) => m.type);
    assert.deepEqual(skipped, ["unsubscribe", "answer", "ice"]);
    const ice = TABLE.filter(([m]) => m.type === "ice").map(([m]) => nodeChecks(m));
    assert.deepEqual(ice, [true, false]);
  });
});
