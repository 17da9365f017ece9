// The DOM-free parts of connection resilience: telemetry buffers stay bounded, the link doctor
// restarts ICE and asks for new connections when it should (and only then), and a mesh replaces
// a connection by a newer generation and drops the older one's signals.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { LinkDoctor, MAX_NEW_LINKS, MAX_RESTARTS, RESTART_AFTER_MS, RESTART_WAIT_MS, SILENT_RESTART_MS, STUCK_MS } from "../src/p2p/repair.js";
import { NetPause } from "../src/game/net-pause.js";
import { MAX_CHUNK, NetTelemetry, Ring } from "../src/game/net-telemetry.js";

test("a ring keeps the newest items and counts what it dropped", () => {
  const ring = new Ring(3);
  for (let i = 0; i < 10; i += 1) ring.push(i);
  assert.equal(ring.size, 3);
  assert.equal(ring.dropped, 7);
  assert.deepEqual(ring.take(10), [7, 8, 9]);
  assert.equal(ring.size, 0);
  ring.push("x");
  assert.deepEqual(ring.take(1), ["x"]);
});

test("telemetry samples a second at a time and its buffer stays bounded however long the game", async () => {
  const sent = [];
  let now = 1_700_000_000_000;
  const telemetry = new NetTelemetry({
    sceneId: "s",
    enqueue: (m) => sent.push(m),
    links: async () => ({ rtt_ms: 12.345, candidate_type: "host" }),
    serverRtt: () => 3.3,
    relayed: () => 0,
    frameMs: 1000 / 30,
    now: () => now,
    capacity: 50,
  });
  telemetry.episode = 0;
  for (let second = 0; second < 1000; second += 1) {
    for (let tick = 0; tick < 30; tick += 1) {
      telemetry.tick({ rollbacks: tick === 3 ? 1 : 0, rollback_depth: 4, stalled: tick < 2, rtt_ms: { 1: 20 } });
    }
    await telemetry.sample();
    now += 1000;
    assert.ok(telemetry.ring.size <= 50);
  }
  assert.ok(telemetry.ring.dropped > 9000);
  telemetry.flush();
  assert.ok(sent.every((m) => m.type === "telemetry" && m.samples.length <= MAX_CHUNK));
  const last = sent.flatMap((m) => m.samples).filter(([t]) => t === (now - 1000) / 1000);
  const byMetric = Object.fromEntries(last.map(([, m, v]) => [m, v]));
  assert.deepEqual(byMetric, {
    rollbacks: 1, rollback_depth: 4, stalls: 2, stalled_ms: 67, relayed: 0, paused: 0,
    engine_rtt_ms: 20, ws_rtt_ms: 3.3, p2p_rtt_ms: 12.35, candidate_type: "host",
  });
});

/** A link the doctor looks at, with a connection state the test sets. */
function fakeLink(peer = 1) {
  return {
    peer, gen: 0, isOpen: true, heardAt: 0, openedAt: 0, state: "open",
    pc: { connectionState: "connected" },
    restarts: 0,
    restartIce() { this.restarts += 1; },
  };
}

function doctor(link, relayAt = () => -Infinity) {
  const calls = { requested: [], repaired: [], gaveUp: [] };
  let now = 0;
  const d = new LinkDoctor({
    links: new Map([[link.peer, link]]),
    relayHeardAt: relayAt,
    requestLink: (peer, gen) => calls.requested.push([peer, gen]),
    ping: async () => 2,
    onRepaired: (peer, info) => calls.repaired.push(info),
    onGaveUp: (peer, why) => calls.gaveUp.push(why),
    now: () => now,
  });
  return { d, calls, at: (t) => { now = t; d.check(); } };
}

test("a disconnected connection gets ICE restarts, then a new connection", () => {
  const link = fakeLink();
  const { calls, at } = doctor(link);
  link.isOpen = false;
  link.state = "connecting";
  link.pc.connectionState = "disconnected";
  at(100);
  at(100 + RESTART_AFTER_MS - 1);
  assert.equal(link.restarts, 0, "a short disconnection is given its grace");
  let t = 100 + RESTART_AFTER_MS;
  for (let i = 0; i < MAX_RESTARTS; i += 1) {
    at(t);
    assert.equal(link.restarts, i + 1);
    at(t + RESTART_WAIT_MS - 1);
    assert.equal(link.restarts, i + 1, "each restart is given time to work");
    t += RESTART_WAIT_MS;
  }
  assert.deepEqual(calls.requested, []);
  at(t);
  assert.deepEqual(calls.requested, [[1, 0]], "restarts did not help: a new connection");
  at(t + 1000);
  assert.equal(calls.requested.length, 1, "asked once per generation");
});

test("ICE that fails under open data channels is restarted, and the repair says so once packets flow again", async () => {
  // in Chromium the data channels stay "open" while ICE is down: the peer connection tells
  const link = fakeLink();
  const { calls, at } = doctor(link, () => Infinity); // the relay carries the game meanwhile
  link.heardAt = 1000;
  at(1000);
  link.pc.connectionState = "disconnected";
  at(1100);
  at(1100 + RESTART_AFTER_MS - 1);
  assert.equal(link.restarts, 0);
  at(1100 + RESTART_AFTER_MS);
  assert.equal(link.restarts, 1, "restarted although its channels are open");
  link.pc.connectionState = "connected";
  link.heardAt = 2000;
  at(2000);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(calls.requested, []);
  assert.deepEqual(calls.repaired, [{ how: "ice_restart", ice_restarts: 1, repair_ms: 900, rtt_ms: 2, gen: 0 }]);
  // a blip that heals before its restart is due is no repair
  link.pc.connectionState = "disconnected";
  at(3000);
  link.pc.connectionState = "connected";
  link.heardAt = 3100;
  at(3100);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.repaired.length, 1);
  assert.equal(link.restarts, 1);
});

test("data channels silent while the relay works get an ICE restart first, a new connection only later", async () => {
  // a dead path: Chromium still says "connected" and "open" for seconds, only silence tells
  const link = fakeLink();
  let relayAt = 0;
  const { calls, at } = doctor(link, () => relayAt);
  link.heardAt = 1000;
  const step = (t) => { relayAt = t; at(t); };
  for (let t = 1000; t < 1000 + SILENT_RESTART_MS; t += 250) step(t);
  assert.equal(link.restarts, 0, "a short silence is the relay's job");
  for (let t = 1000 + SILENT_RESTART_MS; t <= 1000 + SILENT_RESTART_MS + RESTART_AFTER_MS; t += 250) step(t);
  assert.equal(link.restarts, 1);
  assert.deepEqual(calls.requested, []);
  link.heardAt = 3000; // the restarted path carries packets again
  step(3000);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(calls.repaired.map((r) => [r.how, r.ice_restarts, r.gen]), [["ice_restart", 1, 0]]);
  // a connection that just opened and has not been heard yet is not restarted for it
  const fresh = fakeLink();
  fresh.openedAt = 5000;
  fresh.heardAt = 0;
  const second = doctor(fresh, () => 7000);
  second.at(7000);
  second.at(7600);
  assert.equal(fresh.restarts, 0);
  // a path that stays dead: restarted again, then replaced after STUCK_MS of silence
  for (let t = 3000; t <= 3000 + STUCK_MS; t += 250) step(t);
  assert.ok(link.restarts >= 2);
  assert.deepEqual(calls.requested, [[1, 0]]);
});

test("a closed connection is replaced at once, a bounded number of times, and the repair is checked", async () => {
  const link = fakeLink();
  const { calls, at } = doctor(link);
  link.isOpen = false;
  link.state = "closed";
  at(10);
  assert.deepEqual(calls.requested, [[1, 0]]);
  for (let gen = 1; gen < MAX_NEW_LINKS + 3; gen += 1) {
    link.gen = gen;
    at(10 + gen);
  }
  assert.equal(calls.requested.length, MAX_NEW_LINKS);
  assert.equal(calls.gaveUp.length, 1);
  // the last one came up: the repair is reported with its health check
  const fresh = fakeLink();
  const second = doctor(fresh);
  fresh.isOpen = false;
  fresh.state = "closed";
  second.at(0);
  Object.assign(fresh, { gen: 1, isOpen: true, state: "open", heardAt: 400, openedAt: 350 });
  second.at(420);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(second.calls.repaired.length, 1);
  assert.deepEqual(second.calls.repaired[0], { how: "new_connection", ice_restarts: 0, repair_ms: 420, rtt_ms: 2, gen: 1 });
});

test("an open channel that stays silent while the relay carries the game is replaced, quickly after an outage", () => {
  const link = fakeLink();
  let relayAt = -Infinity;
  const { calls, at } = doctor(link, () => relayAt);
  link.heardAt = 1000;
  relayAt = 1000;
  at(1100);
  at(2100); // nothing on any path for a second: an outage
  relayAt = 4000; // the relay is back first (the websocket flushed), the channel is not
  at(4100);
  assert.deepEqual(calls.requested, [[1, 0]]);
  // without an outage, a lossy link's stall gets much longer before anything is done
  const other = fakeLink();
  let relay2 = 0;
  const second = doctor(other, () => relay2);
  for (let t = 0; t < STUCK_MS; t += 250) {
    relay2 = t;
    second.at(t);
  }
  assert.deepEqual(second.calls.requested, []);
  relay2 = STUCK_MS;
  second.at(STUCK_MS);
  assert.deepEqual(second.calls.requested, [[1, 0]]);
});

/** Just enough DOM for NetPause's overlay lines. */
function pauseFor({ timeoutS = 5 } = {}) {
  globalThis.document ??= /** @type {any} */ ({ createElement: () => ({ className: "", textContent: "" }) });
  let now = 1000;
  const reports = [];
  const shown = [];
  const view = {
    overlay: { dataset: /** @type {Record<string, string>} */ ({}) },
    show(kind, children) {
      this.overlay.dataset.kind = kind;
      shown.push(children.map((c) => c.textContent));
    },
    hideOverlay() {
      this.overlay.dataset.kind = "";
      shown.push(null);
    },
  };
  const pause = new NetPause({
    view,
    report: (state, fields) => reports.push({ state, ...fields }),
    aliasOf: (peer) => `peer${peer}`,
    reconnectTimeoutS: timeoutS,
    now: () => now,
  });
  return { pause, reports, shown, view, advance: (ms) => { now += ms; } };
}

test("a pause shows the countdown, reports to the server and adds up for the summary", () => {
  const { pause, reports, shown, view, advance } = pauseFor();
  pause.paused({ frame: 120, waiting_for: [1] });
  assert.deepEqual(reports, [{ state: "paused", frame: 120, waiting_for: ["peer1"] }]);
  assert.deepEqual(shown.at(-1), ["Waiting for your partner (5 s)", "The connection to your partner is interrupted. The game goes on where it stopped as soon as it is back."]);
  advance(2100);
  pause.draw();
  assert.equal(view.overlay.dataset.seconds, "3");
  assert.equal(pause.summary().paused_ms, 2100, "an ongoing pause counts");
  pause.resumed({ frame: 120, paused_ms: 2200 });
  assert.deepEqual(reports.at(-1), { state: "resumed", frame: 120, paused_ms: 2200 });
  assert.equal(shown.at(-1), null, "the overlay goes");
  assert.deepEqual(pause.summary(), { pauses: 1, paused_ms: 2200 });
  pause.paused({ frame: 300, waiting_for: [1] });
  advance(5000);
  pause.timedOut(300);
  assert.deepEqual(reports.at(-1), { state: "timeout", frame: 300, waiting_for: ["peer1"] });
  assert.deepEqual(pause.summary(), { pauses: 2, paused_ms: 7200 });
  pause.reset();
  assert.deepEqual(pause.summary(), { pauses: 0, paused_ms: 0 }, "a new episode counts afresh");
  pause.destroy();
});

test("a partner whose page reloads is waited for as long as the server says", () => {
  const { pause, shown, view, advance } = pauseFor({ timeoutS: 5 });
  pause.paused({ frame: 400, waiting_for: [0] });
  pause.hold(0, 30); // the server's peer_link "rejoined" with hold_s
  assert.equal(view.overlay.dataset.seconds, "30");
  assert.match(shown.at(-1)[1], /page is reloading/);
  advance(10_000);
  pause.draw();
  assert.equal(view.overlay.dataset.seconds, "20");
  pause.end();
  // the rebuilt page itself waits for its partners' echo, without blaming them
  pause.rejoining = true;
  pause.paused({ frame: 402, waiting_for: [0] });
  assert.equal(shown.at(-1)[0], "Reconnecting to your partner…");
  pause.destroy();
});
