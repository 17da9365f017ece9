// The admin page's DOM-free modules: formatting, table sorting and filtering, plot geometry,
// and the replay clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ago, duration, num, pct, short } from "../src/admin/format.js";
import { plotGeometry } from "../src/admin/plot.js";
import { ReplayClock } from "../src/admin/replay-clock.js";
import { filterRows, sortRows } from "../src/admin/table.js";

test("times, durations and shares read well", () => {
  assert.equal(ago(100, 101), "now");
  assert.equal(ago(100, 130), "30 s ago");
  assert.equal(ago(100, 100 + 600), "10 min ago");
  assert.equal(ago(null, 1), "–");
  assert.equal(duration(4.25), "4.3 s");
  assert.equal(duration(125), "2 min 5 s");
  assert.equal(duration(7300), "2 h 1 min");
  assert.equal(num(null), "–");
  assert.equal(pct(0.5), "50 %");
  assert.equal(pct(0.012), "1.2 %");
  assert.equal(short({ a: "x".repeat(300) }, 20).length, 20);
});

test("rows sort by value with empty values last, and keep their order on ties", () => {
  const rows = [{ id: "a", v: 3 }, { id: "b", v: null }, { id: "c", v: 1 }, { id: "d", v: 3 }];
  assert.deepEqual(sortRows(rows, (r) => r.v, "asc").map((r) => r.id), ["c", "a", "d", "b"]);
  assert.deepEqual(sortRows(rows, (r) => r.v, "desc").map((r) => r.id), ["a", "d", "c", "b"]);
  assert.deepEqual(sortRows(rows, (r) => r.id, "desc").map((r) => r.id), ["d", "c", "b", "a"]);
});

test("filtering needs every word, in any case", () => {
  const rows = [{ t: "p1 completed desync" }, { t: "p2 active" }, { t: "P3 Completed" }];
  assert.deepEqual(filterRows(rows, "completed", (r) => r.t).length, 2);
  assert.deepEqual(filterRows(rows, "completed desync", (r) => r.t), [rows[0]]);
  assert.equal(filterRows(rows, "  ", (r) => r.t).length, 3);
});

test("plot geometry fits every series into the box", () => {
  const g = plotGeometry({ a: [[10, 0], [20, 50]], b: [[15, 100]] }, 100, 50, 0);
  assert.equal(g.tMin, 10);
  assert.equal(g.tMax, 20);
  assert.equal(g.vMin, 0);
  assert.equal(g.vMax, 100);
  assert.deepEqual(g.lines[0].points, [[0, 50], [100, 25]]);
  assert.deepEqual(g.lines[1].points, [[50, 0]]);
  const one = plotGeometry({ a: [[5, 7]] }, 100, 50, 0);
  assert.deepEqual(one.lines[0].points, [[50, 0]]); // a single point sits in the middle
});

test("the replay clock plays, pauses, changes speed, seeks and stops at the end", () => {
  let now = 0;
  const clock = new ReplayClock(100, 10, () => now);
  assert.equal(clock.frame(), 0);
  clock.play();
  now = 1000;
  assert.equal(clock.frame(), 10);
  clock.setSpeed(2);
  now = 2000;
  assert.equal(clock.frame(), 30);
  clock.pause();
  now = 5000;
  assert.equal(clock.frame(), 30);
  clock.seek(95);
  clock.play();
  now = 10_000;
  assert.equal(clock.frame(), 99);
  assert.ok(clock.ended && !clock.playing);
  clock.play(); // again from the start
  assert.equal(clock.frame(), 0);
  assert.ok(clock.playing);
  clock.seek(500);
  assert.equal(clock.base, 99);
});
