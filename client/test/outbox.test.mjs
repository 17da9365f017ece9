import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { resetBrowser } from "./browser-stubs.mjs";
import { Outbox } from "../src/outbox.js";

/** @returns {{sent: object[], outbox: Outbox, online: {value: boolean}}} */
function setup() {
  const sent = [];
  const online = { value: true };
  const outbox = new Outbox((message) => {
    if (!online.value) return false;
    sent.push(message);
    return true;
  });
  return { sent, outbox, online };
}

const welcome = { participant_id: "p1", token: "T1" };

beforeEach(() => resetBrowser());

test("messages wait for the welcome, then go out with token and seq", () => {
  const { sent, outbox } = setup();
  assert.equal(outbox.enqueue({ type: "event", name: "a", data: {} }), 1);
  assert.deepEqual(sent, []);
  outbox.established(welcome);
  assert.deepEqual(sent, [{ type: "event", name: "a", data: {}, token: "T1", seq: 1 }]);
  assert.equal(outbox.enqueue({ type: "submit", scene_id: "s", responses: {} }), 2);
  assert.equal(sent[1].seq, 2);
  assert.equal(sent[1].token, "T1");
});

test("an ack forgets the message; unacked ones are re-sent with the same seq", () => {
  const { sent, outbox } = setup();
  outbox.established(welcome);
  outbox.enqueue({ type: "event", name: "a", data: {} });
  outbox.enqueue({ type: "event", name: "b", data: {} });
  assert.deepEqual(outbox.settle(1), { type: "event", name: "a", data: {} });
  assert.equal(outbox.settle(1), null, "settling twice is harmless");
  outbox.disconnected();
  sent.length = 0;
  outbox.established(welcome);
  assert.deepEqual(sent.map((m) => [m.seq, m.name]), [[2, "b"]]);
  assert.equal(outbox.size, 1);
});

test("a reload keeps the counter and the unacked messages", () => {
  const first = setup();
  first.outbox.established(welcome);
  first.outbox.enqueue({ type: "event", name: "a", data: {} });
  first.outbox.enqueue({ type: "event", name: "b", data: {} });
  first.outbox.settle(1);

  const reloaded = setup();
  reloaded.outbox.established(welcome);
  assert.deepEqual(reloaded.sent.map((m) => m.seq), [2]);
  assert.equal(reloaded.outbox.enqueue({ type: "event", name: "c", data: {} }), 3);
});

test("another participant's unsent messages are dropped, the counter keeps rising", () => {
  const { sent, outbox } = setup();
  outbox.established(welcome);
  outbox.enqueue({ type: "event", name: "a", data: {} });
  outbox.disconnected();
  sent.length = 0;
  outbox.established({ participant_id: "p2", token: "T2" });
  assert.deepEqual(sent, []);
  assert.equal(outbox.enqueue({ type: "event", name: "b", data: {} }), 2);
});

test("a welcome that reports last_seq moves the counter past it", () => {
  const { outbox } = setup();
  outbox.established({ ...welcome, last_seq: 41 });
  assert.equal(outbox.enqueue({ type: "event", name: "a", data: {} }), 42);
});

test("offline: enqueue keeps the message and re-sends it after the welcome", () => {
  const { sent, outbox, online } = setup();
  outbox.established(welcome);
  online.value = false;
  outbox.enqueue({ type: "submit", scene_id: "s", responses: { a: 1 } });
  assert.deepEqual(sent, []);
  online.value = true;
  outbox.disconnected();
  outbox.established(welcome);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].seq, 1);
});

test("a message the server could not take now is kept and sent again later", async () => {
  const { sent, outbox } = setup();
  outbox.established(welcome);
  outbox.enqueue({ type: "frames", scene_id: "g", episode: 0, records: [] });
  const delay = outbox.retryLater(1);
  assert.ok(delay >= 500 && delay <= 1000, `first retry after 0.5-1 s, got ${delay}`);
  assert.equal(outbox.size, 1, "kept until it is acked");
  await new Promise((resolve) => setTimeout(resolve, delay + 20));
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], sent[0], "the same message with the same seq");
  assert.ok(outbox.retryLater(1) >= 1000, "the next retry waits longer");
  outbox.settle(1);
  assert.equal(outbox.retryLater(1), -1, "an acked message is not retried");
});
