import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { FakeWebSocket, resetBrowser } from "./browser-stubs.mjs";
import { Connection } from "../src/connection.js";

beforeEach(() => {
  resetBrowser();
  mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
});

afterEach(() => mock.timers.reset());

function connect() {
  const statuses = [];
  const received = [];
  let hellos = 0;
  const connection = new Connection({
    url: "ws://127.0.0.1:8000/ws",
    hello: () => ({ type: "hello", n: ++hellos }),
    onMessage: (m) => received.push(m),
    onStatus: (s) => statuses.push(s),
    minDelayMs: 100,
    maxDelayMs: 1000,
    pingIntervalMs: 5000,
  });
  connection.start();
  return { connection, statuses, received };
}

test("hello is the first frame of every connection", () => {
  const { statuses } = connect();
  const first = FakeWebSocket.created[0];
  first.serverOpens();
  assert.deepEqual(first.sent, [{ type: "hello", n: 1 }]);
  first.serverDrops();
  mock.timers.tick(100);
  const second = FakeWebSocket.created[1];
  second.serverOpens();
  assert.deepEqual(second.sent, [{ type: "hello", n: 2 }]);
  assert.deepEqual(statuses.map((s) => s.state), ["connecting", "open", "reconnecting", "reconnecting", "open"]);
});

test("reconnect delays grow exponentially with jitter and stay under the cap", () => {
  const { statuses } = connect();
  for (let i = 0; i < 8; i += 1) {
    FakeWebSocket.created.at(-1).serverDrops();
    const last = statuses.at(-1);
    assert.equal(last.state, "reconnecting");
    const base = Math.min(1000, 100 * 2 ** i);
    assert.ok(last.delay_ms >= base / 2 && last.delay_ms <= base, `attempt ${i + 1}: ${last.delay_ms}`);
    mock.timers.tick(last.delay_ms);
  }
  assert.equal(FakeWebSocket.created.length, 9);
});

test("a successful open resets the backoff", () => {
  const { statuses } = connect();
  FakeWebSocket.created[0].serverDrops();
  mock.timers.tick(1000);
  FakeWebSocket.created[1].serverDrops();
  mock.timers.tick(1000);
  FakeWebSocket.created[2].serverOpens();
  FakeWebSocket.created[2].serverDrops();
  assert.ok(statuses.at(-1).delay_ms <= 100);
});

test("pongs measure the round trip and are not passed on; other messages are", () => {
  const { connection, received } = connect();
  const socket = FakeWebSocket.created[0];
  socket.serverOpens();
  socket.serverSays({ type: "pong", t: performance.now() - 5 });
  socket.serverSays({ type: "ack", seq: 1 });
  socket.emit("message", { data: "not json" });
  assert.ok(connection.rttMs !== null && connection.rttMs >= 5);
  assert.deepEqual(received, [{ type: "ack", seq: 1 }]);
  mock.timers.tick(5000);
  assert.equal(socket.sent.at(-1).type, "ping");
});

test("stop() closes for good: no reconnect", () => {
  const { connection, statuses } = connect();
  FakeWebSocket.created[0].serverOpens();
  connection.stop("session_taken");
  mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.created.length, 1);
  assert.equal(statuses.at(-1).state, "stopped");
  assert.equal(connection.send({ type: "event" }), false);
});
