import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { installPage } from "./browser-stubs.mjs";
import { DRAW_TIMEOUT_MS, FrameDrawer, SettledDrawTimes } from "../src/game/frame-drawer.js";

/** @type {ReturnType<typeof installPage>} */
let page;
/** @type {FrameDrawer[]} */
const drawers = [];

beforeEach(() => {
  page = installPage();
});
afterEach(() => {
  for (const d of drawers.splice(0)) d.destroy();
  mock.timers.reset();
});

/** A drawer that notes what it draws, commits and is told about focus. */
function drawer(options = {}) {
  const seen = { drawn: [], commits: [], focus: [] };
  const d = new FrameDrawer({
    draw: (latest) => seen.drawn.push(latest.id),
    committed: (batches, latest) =>
      seen.commits.push({ frames: batches.flatMap((b) => b.records.map((r) => [r.frame, r.t.drawn])), latest: latest?.id }),
    focus: (visible) => seen.focus.push(visible),
    ...options,
  });
  drawers.push(d);
  return { d, seen };
}

/** @param {number} frame */
function record(frame) {
  return { frame, t: { key: null, tick: frame, step: frame, drawn: null } };
}

/** A worker message with its records. @param {string} id @param {number[]} frames */
function message(id, frames, more = {}) {
  const records = frames.map(record);
  return { m: { id, render: [], hud: {}, done: false, telemetry: { step_ms: 1 }, records, ...more }, records };
}

test("several ticks before an animation frame: the newest is drawn, every record stamped with that draw", () => {
  const { d, seen } = drawer();
  for (const [id, frames] of [["a", [0]], ["b", [1, 2]]]) {
    const { m, records } = message(id, frames);
    d.receive(m, records);
  }
  assert.equal(page.frames.length, 1, "one animation frame asked for");
  assert.deepEqual(seen.commits, [], "nothing is committed before the draw");
  page.runFrames();
  assert.deepEqual(seen.drawn, ["b"]);
  assert.equal(seen.commits.length, 1);
  const [{ frames, latest }] = seen.commits;
  assert.equal(latest, "b");
  assert.deepEqual(frames.map(([f]) => f), [0, 1, 2]);
  const drawn = frames[0][1];
  assert.equal(typeof drawn, "number");
  assert.ok(frames.every(([, t]) => t === drawn), "one draw time for the whole batch");
  page.runFrames();
  assert.equal(seen.commits.length, 1, "no animation frame without new records");
});

test("hidden tab: records are committed at once as not drawn, and nothing is drawn", () => {
  const { d, seen } = drawer();
  page.setVisibility("hidden");
  const { m, records } = message("a", [0, 1]);
  d.receive(m, records);
  assert.equal(page.frames.length, 0);
  assert.deepEqual(seen.commits, [{ frames: [[0, null], [1, null]], latest: "a" }]);
  assert.deepEqual(seen.drawn, []);
});

test("the tab is hidden while records wait: the scene hears of it first, then they are not drawn", () => {
  const order = [];
  const { d } = drawer({
    focus: (visible) => order.push(`focus ${visible}`),
    committed: (batches) => order.push(`commit ${batches[0].records[0].t.drawn}`),
  });
  const { m, records } = message("a", [0]);
  d.receive(m, records);
  page.setVisibility("hidden");
  assert.deepEqual(order, ["focus false", "commit null"]);
  page.setVisibility("visible");
  assert.deepEqual(order, ["focus false", "commit null", "focus true"], "nothing waits: nothing to commit");
});

test("no animation frame within DRAW_TIMEOUT_MS: the records are not drawn", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  const { d, seen } = drawer();
  const { m, records } = message("a", [0]);
  d.receive(m, records);
  mock.timers.tick(DRAW_TIMEOUT_MS - 1);
  assert.deepEqual(seen.commits, []);
  mock.timers.tick(1);
  assert.deepEqual(seen.commits, [{ frames: [[0, null]], latest: "a" }]);
  page.runFrames(); // the late animation frame finds nothing waiting
  assert.deepEqual(seen.drawn, []);
});

test("a draw cancels the timeout", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  const { d, seen } = drawer();
  const { m, records } = message("a", [0]);
  d.receive(m, records);
  page.runFrames();
  mock.timers.tick(DRAW_TIMEOUT_MS * 2);
  assert.equal(seen.commits.length, 1);
  assert.notEqual(seen.commits[0].frames[0][1], null);
});

test("drawLastAtOnce: an episode's last message is drawn when it comes (not drawn if hidden)", () => {
  const { d, seen } = drawer({ drawLastAtOnce: true });
  const last = message("end", [0], { done: true });
  d.receive(last.m, last.records);
  assert.deepEqual(seen.drawn, ["end"]);
  assert.equal(typeof seen.commits[0].frames[0][1], "number");

  const other = drawer({ drawLastAtOnce: true });
  page.setVisibility("hidden");
  const hidden = message("end", [0], { done: true });
  other.d.receive(hidden.m, hidden.records);
  assert.deepEqual(other.seen.drawn, []);
  assert.deepEqual(other.seen.commits[0].frames, [[0, null]]);
});

test("without drawLastAtOnce the last message waits for the animation frame", () => {
  const { d, seen } = drawer();
  const last = message("end", [0], { done: true });
  d.receive(last.m, last.records);
  assert.deepEqual(seen.drawn, []);
  page.runFrames();
  assert.deepEqual(seen.drawn, ["end"]);
});

test("reset and destroy: nothing from before is drawn", () => {
  const { d, seen } = drawer();
  const { m, records } = message("a", [0]);
  d.receive(m, records);
  d.reset();
  assert.equal(d.latest, null);
  page.runFrames();
  assert.deepEqual(seen.drawn, []);
  const again = message("b", [0]);
  d.receive(again.m, again.records);
  d.destroy();
  page.runFrames();
  assert.deepEqual(seen.drawn, []);
  page.setVisibility("hidden");
  assert.deepEqual(seen.focus, [], "no visibility events after destroy");
});

test("settled records get the time the first state past their frame was drawn", () => {
  let now = 0;
  mock.method(performance, "now", () => now);
  const { d, seen } = drawer({ drawTimes: new SettledDrawTimes() });
  /** @param {string} id @param {number[]} settled @param {number} frame */
  const tick = (id, settled, frame) => {
    const { m, records } = message(id, settled, { frame });
    d.receive(m, records);
  };
  tick("t1", [], 3); // the state after frames 0..2, nothing settled yet
  now = 100;
  page.runFrames();
  tick("t2", [0, 1], 5); // frames 0 and 1 settle; the state after 0..4
  now = 200;
  page.runFrames();
  page.setVisibility("hidden");
  tick("t3", [2, 3, 4, 5], 6); // settled while hidden; the state after 0..5 is never drawn
  assert.deepEqual(
    seen.commits.map((c) => c.frames),
    [[], [[0, 100], [1, 100]], [[2, 100], [3, 200], [4, 200], [5, null]]],
  );
  mock.restoreAll();
});

test("settled draw times: each frame's time is given once, and reset forgets them", () => {
  const times = new SettledDrawTimes();
  times.shown({ frame: 2, render: [], hud: {}, done: false }, 50);
  times.shown({ frame: 1, render: [], hud: {}, done: false }, 60); // older: changes nothing
  times.shown({ frame: 3, render: [], hud: {}, done: false }, null); // not drawn: changes nothing
  assert.equal(times.drawnAt(record(1)), 50);
  assert.equal(times.drawnAt(record(1)), null, "given once");
  times.reset();
  assert.equal(times.drawnAt(record(0)), null);
  times.shown({ frame: 1, render: [], hud: {}, done: false }, 70);
  assert.equal(times.drawnAt(record(0)), 70);
});
