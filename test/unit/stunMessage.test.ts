import assert from "node:assert/strict";
import { test } from "node:test";
import { classes, Message, methods } from "werift";
import {
  classify,
  isBindingRequest,
  requestedUfrag,
} from "../../media-node/src/ice/stunMessage.ts";

/** A Binding request as a real ICE agent builds it (werift's STUN encoder, independent of ours). */
function bindingRequest(username: string | null): Buffer {
  const m = new Message(methods.BINDING, classes.REQUEST);
  m.setAttribute("PRIORITY", 1845501695);
  if (username !== null) m.setAttribute("USERNAME", username);
  m.setAttribute("ICE-CONTROLLING", 5n);
  m.addMessageIntegrity(Buffer.from("a-password-of-22-chars", "utf8"));
  m.addFingerprint();
  return m.bytes;
}

test("RFC 7983 classes by first byte", () => {
  assert.equal(classify(0), "stun");
  assert.equal(classify(3), "stun");
  assert.equal(classify(20), "dtls");
  assert.equal(classify(63), "dtls");
  assert.equal(classify(64), "other"); // TURN channel
  assert.equal(classify(127), "other");
  assert.equal(classify(128), "rtp");
  assert.equal(classify(191), "rtp");
  assert.equal(classify(192), "other");
});

test("the local ufrag is read from USERNAME, after other attributes", () => {
  const request = bindingRequest("Ab3d:remoteUfrag");
  assert.equal(isBindingRequest(request), true);
  assert.equal(requestedUfrag(request), "Ab3d");
  assert.equal(requestedUfrag(bindingRequest("x".repeat(250) + ":r")), "x".repeat(250));
});

test("requests without USERNAME, without a colon, or truncated name no ufrag", () => {
  assert.equal(requestedUfrag(bindingRequest(null)), null);
  assert.equal(requestedUfrag(bindingRequest("nocolon")), null);
  const request = bindingRequest("Ab3d:remote");
  assert.equal(isBindingRequest(request.subarray(0, request.length - 4)), false);
  const lying = Buffer.from(request);
  lying.writeUInt16BE(28, 22); // USERNAME claims more bytes than the datagram holds
  assert.equal(requestedUfrag(lying.subarray(0, 30)), null);
});

test("responses and indications are not Binding requests", () => {
  const response = new Message(methods.BINDING, classes.RESPONSE);
  assert.equal(isBindingRequest(response.bytes), false);
  const indication = new Message(methods.BINDING, classes.INDICATION);
  assert.equal(isBindingRequest(indication.bytes), false);
  assert.equal(isBindingRequest(Buffer.alloc(19)), false);
});
