import assert from "node:assert/strict";
import { test } from "node:test";

import { resetBrowser } from "./browser-stubs.mjs";
import { PacketBridge } from "../src/game/net-bridge.js";
import { NetMatch } from "../src/game/net-match.js";

// -- the packet bridge between the data channels and the worker -----------------------------------

function fakeWorker(ready = true) {
  const posted = [];
  return { isReady: ready, posted, worker: { postMessage: (message, transfer) => posted.push({ message, transfer }) } };
}

test("packets from partners go to the worker in one message per task, their buffers transferred", async () => {
  const py = fakeWorker();
  const bridge = new PacketBridge(() => /** @type {any} */ (py), () => null);
  const a = new ArrayBuffer(4);
  const b = new ArrayBuffer(8);
  bridge.toWorker(1, a);
  bridge.toWorker(2, b);
  assert.equal(py.posted.length, 0, "not before the task ends");
  await Promise.resolve();
  assert.equal(py.posted.length, 1);
  assert.deepEqual(py.posted[0].message, { type: "net_packets", packets: [[1, a], [2, b]] });
  assert.deepEqual(py.posted[0].transfer, [a, b]);
  bridge.toWorker(1, new ArrayBuffer(1));
  await Promise.resolve();
  assert.equal(py.posted.length, 2, "a later task: a new message");
});

test("packets that come before the worker is ready are dropped", async () => {
  const py = fakeWorker(false);
  const bridge = new PacketBridge(() => /** @type {any} */ (py), () => null);
  bridge.toWorker(1, new ArrayBuffer(4));
  await Promise.resolve();
  py.isReady = true;
  bridge.toWorker(1, new ArrayBuffer(2));
  await Promise.resolve();
  assert.equal(py.posted.length, 1);
  assert.equal(py.posted[0].message.packets.length, 1);
});

test("the worker's packets go to the partners; the last frame's end report goes on every path", () => {
  const calls = [];
  const mesh = {
    sendPackets: (packets) => calls.push(["send", packets.length]),
    broadcast: (message, options) => calls.push(["broadcast", message, options]),
  };
  const bridge = new PacketBridge(() => null, () => /** @type {any} */ (mesh));
  const packets = [[1, new ArrayBuffer(2)]];
  bridge.fromWorker({ packets, done: false, farewell: null, episode: 0 });
  bridge.fromWorker({ packets, done: true, farewell: null, episode: 0 });
  bridge.fromWorker({ packets: [], done: true, farewell: "ZW5k", episode: 1 });
  assert.deepEqual(calls, [
    ["send", 1],
    ["send", 1],
    ["send", 0],
    ["broadcast", { t: "end", episode: 1, packet: "ZW5k" }, { relay: true }],
  ]);
  new PacketBridge(() => null, () => null).fromWorker({ packets, done: true, farewell: "x", episode: 0 }); // no mesh: nothing
});

// -- the waiting room ------------------------------------------------------------------------------

function waitingRoom() {
  resetBrowser();
  const queued = [];
  const shown = [];
  const phases = [];
  const state = { waiting: null, match: null, matches_tried: 0, probe_rtt_ms: null, requeued: [], phase: "loading" };
  const matching = new NetMatch({
    sceneId: "cooking",
    handlers: { enqueue: (m) => queued.push(m), onContinue: () => {}, serverRtt: () => 12 },
    state,
    lobby: /** @type {any} */ ({ showWaiting: (n) => shown.push(n), showConnecting: () => shown.push("connecting") }),
    setPhase: (phase) => {
      state.phase = phase;
      phases.push(phase);
    },
    onPacket: () => {},
    onEnd: () => {},
    onPartnerClosed: () => {},
  });
  return { matching, queued, shown, phases, state };
}

test("waiting room: lobby_join (again after a reconnect), the waiting count while waiting", () => {
  const { matching, queued, shown, phases, state } = waitingRoom();
  matching.join();
  assert.deepEqual(phases, ["waiting"]);
  assert.deepEqual(queued, [{ type: "lobby_join", scene_id: "cooking", attributes: {}, server_rtt_ms: 12 }]);
  assert.equal(matching.receive({ type: "lobby", waiting: 3 }), true);
  assert.equal(state.waiting, 3);
  assert.deepEqual(shown, [null, 3]);
  matching.resumed();
  assert.equal(queued.length, 2);
  assert.equal(matching.receive({ type: "match_start", match_id: "m" }), false, "the scene's, not the waiting room's");
  assert.equal(matching.start(), null, "no match: nothing to start");
});

test("waiting room: signals and requeues of another match are ignored", () => {
  const { matching, state } = waitingRoom();
  matching.join();
  assert.equal(matching.receive({ type: "signal", match_id: "other", data: {} }), true);
  assert.deepEqual(matching.earlySignals, []);
  assert.equal(matching.receive({ type: "requeued", match_id: "other", reason: "probe_failed" }), true);
  assert.deepEqual(state.requeued, []);
});
