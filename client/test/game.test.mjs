import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { EpisodeLog } from "../src/game/episode-log.js";
import { EpisodeTelemetry } from "../src/game/telemetry.js";
import { MAX_CHUNK_BYTES, Recorder } from "../src/game/recorder.js";
import { percentiles, quantile } from "../src/game/stats.js";
import { InputState } from "../src/worker/input-state.js";

// -- input state (what each tick samples) ---------------------------------------------------------

test("held mode: the held key acts every tick; only its first tick carries the key time", () => {
  const input = new InputState("held");
  assert.deepEqual(input.sample(), { action: null, key_t: null }, "idle: the default action");
  input.down(3, 100);
  assert.deepEqual(input.sample(), { action: 3, key_t: 100 });
  assert.deepEqual(input.sample(), { action: 3, key_t: null });
  input.down(2, 150); // a second key while the first is held: the newest wins
  assert.deepEqual(input.sample(), { action: 2, key_t: 150 });
  input.up(2);
  assert.deepEqual(input.sample(), { action: 3, key_t: null }, "back to the key still held");
  input.up(3);
  assert.deepEqual(input.sample(), { action: null, key_t: null });
});

test("held mode: a tap between two ticks is not lost, and taps act in order", () => {
  const input = new InputState("held");
  input.down(4, 10);
  input.up(4);
  input.down(1, 12);
  input.up(1);
  assert.deepEqual(input.sample(), { action: 4, key_t: 10 });
  assert.deepEqual(input.sample(), { action: 1, key_t: 12 });
  assert.deepEqual(input.sample(), { action: null, key_t: null });
});

test("press mode: each press acts once; holding does not repeat", () => {
  const input = new InputState("press");
  input.down(0, 5);
  assert.deepEqual(input.sample(), { action: 0, key_t: 5 });
  assert.deepEqual(input.sample(), { action: null, key_t: null }, "still held, but pressed once");
  for (let i = 0; i < 20; i += 1) input.down(i % 2, i);
  const acted = [];
  for (let i = 0; i < 20; i += 1) acted.push(input.sample().action);
  assert.equal(acted.filter((a) => a !== null).length, 8, "a backlog is bounded");
});

test("unfocused: the default action, and keys pressed meanwhile are dropped", () => {
  const input = new InputState("held");
  input.down(3, 1);
  input.setFocused(false);
  assert.deepEqual(input.sample(), { action: null, key_t: null });
  input.down(2, 2);
  input.setFocused(true);
  assert.deepEqual(input.sample(), { action: null, key_t: null });
  input.down(2, 3);
  input.clear(); // the window lost focus: no key-up will come
  assert.deepEqual(input.sample(), { action: null, key_t: null });
});

// -- statistics and telemetry ---------------------------------------------------------------------

test("quantiles are nearest-rank; no samples gives null", () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(quantile(xs, 0.5), 3);
  assert.equal(quantile(xs, 0.95), 5);
  assert.equal(quantile(xs, 0), 1);
  assert.equal(quantile([], 0.5), null);
  assert.deepEqual(percentiles("x", []), { x_p50_ms: null, x_p95_ms: null, x_max_ms: null });
});

/** @param {number} frame @param {Partial<{key: number | null, tick: number, step: number, drawn: number | null}>} t */
function record(frame, t = {}, focused = true) {
  return {
    frame,
    actions: { a: 0 },
    rewards: { a: 0 },
    terminated: false,
    truncated: false,
    focused,
    infos: {},
    t: { key: null, tick: 100 * frame, step: 100 * frame + 1, drawn: 100 * frame + 10, ...t },
  };
}

test("episode telemetry: input-to-drawn only from frames a new key event drove", () => {
  const telemetry = new EpisodeTelemetry();
  telemetry.add([record(0, { key: -20 }), record(1)], { step_ms: 1, ticks: 2, late_ms: 0 });
  telemetry.add([record(2, { key: 190, drawn: null }, false)], { step_ms: 3, ticks: 1, late_ms: 5 });
  const s = telemetry.summary();
  assert.equal(s.latency_p50_ms, 30);
  assert.equal(s.latency_samples, 1, "a frame never drawn has no input-to-drawn latency");
  assert.equal(s.input_to_tick_p95_ms, 20);
  assert.equal(s.frames_unfocused, 1);
  assert.equal(s.frames_undrawn, 1);
  assert.equal(s.frames_batched, 1);
  assert.equal(s.step_p95_ms, 3);
  assert.equal(s.frames_seen, 3);
});

// -- recorder (chunks through the outbox) ---------------------------------------------------------

/** @type {Recorder[]} */
const recorders = [];
afterEach(() => {
  for (const r of recorders.splice(0)) r.destroy();
});

function recorder() {
  /** @type {Record<string, any>[]} */
  const queued = [];
  const r = new Recorder("cooking", (message) => queued.push(message));
  recorders.push(r);
  return { r, queued };
}

test("recorder: episode_start, chunks of frames, episode_end, in order", () => {
  const { r, queued } = recorder();
  r.begin(0);
  r.add([record(0), record(1)]);
  r.flush();
  r.flush(); // nothing new: no empty chunk
  r.add([record(2)]);
  r.end({ frames: 3, partial: false, summary: { score: 1 } });
  assert.deepEqual(
    queued.map((m) => [m.type, m.episode, m.records?.map((x) => x.frame)]),
    [
      ["episode_start", 0, undefined],
      ["frames", 0, [0, 1]],
      ["frames", 0, [2]],
      ["episode_end", 0, undefined],
    ],
  );
  assert.equal(queued.at(-1).frames, 3);
  assert.equal(queued.at(-1).scene_id, "cooking");
});

test("recorder: a chunk stays under the websocket message limit", () => {
  const { r, queued } = recorder();
  r.begin(1);
  const big = Array.from({ length: 400 }, (_, i) => ({ ...record(i), infos: { note: "x".repeat(400) } }));
  r.add(big);
  r.flush();
  const chunks = queued.filter((m) => m.type === "frames");
  assert.ok(chunks.length > 1);
  assert.deepEqual(chunks.flatMap((c) => c.records.map((x) => x.frame)), big.map((x) => x.frame));
  for (const chunk of chunks) assert.ok(JSON.stringify(chunk).length <= MAX_CHUNK_BYTES + 200);
});

test("clock drift: the tick span against frames at fps", () => {
  const telemetry = new EpisodeTelemetry();
  assert.equal(telemetry.drift(30), null);
  const ticks = [0, 1000 / 30, 2000 / 30 + 5];
  telemetry.add(ticks.map((tick, i) => record(i, { tick, step: tick + 1, drawn: tick + 2 })), { step_ms: 1, ticks: 3, late_ms: 0 });
  assert.equal(telemetry.drift(30), 5);
});

test("a record without a tick (no local input sample yet) is timed from its step", () => {
  const telemetry = new EpisodeTelemetry();
  const early = record(0, { tick: null, step: 5, drawn: 25 });
  telemetry.add([early, record(1, { tick: 40, step: 41, drawn: 50 })], { step_ms: 1, ticks: 1, late_ms: 0 });
  const s = telemetry.summary();
  assert.equal(s.tick_to_drawn_max_ms, 20, "25 - 5: from the step");
  assert.equal(telemetry.firstTick, 5);
  assert.equal(early.t.tick, null, "the record itself is left as it is");
});

// -- episode log (recorder + telemetry + the scene's state) ----------------------------------------

function episodeLog(samples = { step_ms: [], input_to_drawn_ms: [], tick_late_ms: [] }) {
  const { r, queued } = recorder();
  const state = { summaries: [], samples };
  return { log: new EpisodeLog(r, state), queued, state };
}

test("episode log: episode_start, the committed records, episode_end with the summary, once", () => {
  const { log, queued, state } = episodeLog();
  assert.equal(log.open, false);
  log.begin(2);
  assert.equal(log.open, true);
  log.add([
    { records: [record(0, { key: -20 }), record(1)], telemetry: { step_ms: 1, ticks: 2, late_ms: 4 } },
    { records: [record(2)], telemetry: { step_ms: 3, ticks: 1, late_ms: 0 } },
  ]);
  log.close(false, 7, { ready_ms: 900, extra: "x" });
  log.close(true, 0, { error: "again" }); // closed already: nothing
  assert.deepEqual(
    queued.map((m) => m.type),
    ["episode_start", "frames", "episode_end"],
  );
  const end = queued.at(-1);
  assert.equal(end.episode, 2);
  assert.equal(end.frames, 3);
  assert.equal(end.partial, false);
  const keys = Object.keys(end.summary);
  assert.equal(keys[0], "score");
  assert.deepEqual(keys.slice(-2), ["ready_ms", "extra"], "the scene's fields come after the telemetry's");
  assert.equal(end.summary.score, 7);
  assert.equal(end.summary.latency_p50_ms, 30);
  assert.equal(end.summary.frames_seen, 3);
  assert.deepEqual(state.summaries, [{ episode: 2, frames: 3, partial: false, ...end.summary }]);
  assert.deepEqual(state.samples, { step_ms: [1, 3], input_to_drawn_ms: [30], tick_late_ms: [4, 0] });
});

test("episode log: samples go only where the scene keeps them; each episode starts afresh", () => {
  const samples = { step_ms: [], input_to_drawn_ms: [], rollback_ms: [9] };
  const { log, state } = episodeLog(samples);
  log.begin(0);
  log.add([{ records: [record(0)], telemetry: { step_ms: 1, ticks: 1, late_ms: 2 } }]);
  log.close(true, 0, {});
  log.begin(1);
  log.add([{ records: [record(0), record(1)], telemetry: { step_ms: 2, ticks: 2, late_ms: 0 } }]);
  log.close(false, 1, {});
  assert.deepEqual(samples, { step_ms: [1, 2], input_to_drawn_ms: [], rollback_ms: [9] });
  assert.deepEqual(
    state.summaries.map((s) => [s.episode, s.frames, s.partial, s.frames_seen]),
    [
      [0, 1, true, 1],
      [1, 2, false, 2],
    ],
  );
});

// -- failures: a short message and a reference for the participant, the detail for the log ------

test("a Python traceback is not shown to the participant, only its reference", async () => {
  const { failure } = await import("../src/game/phase.js");
  const traceback = 'Traceback (most recent call last):\n  File "env.py", line 9, in step\nValueError: boom';
  const what = failure("The game stopped because of an error", traceback);
  assert.match(what.ref, /^[0-9A-F]{4}-[0-9A-F]{4}$/);
  assert.equal(what.text, `The game stopped because of an error. (Reference ${what.ref})`);
  assert.equal(what.detail, `The game stopped because of an error: ${traceback}`);
  assert.notEqual(failure("x").ref, what.ref, "a new reference each time");
});

test("the first line of a reason is shown, cut to a readable length; the detail has it all", async () => {
  const { failure } = await import("../src/game/phase.js");
  const oom = failure("The game stopped unexpectedly", "out of memory");
  assert.equal(oom.text, `The game stopped unexpectedly: out of memory. (Reference ${oom.ref})`);
  const zip = failure("The game could not start", "the packages could not be unpacked: BadZipFile\nmore");
  assert.equal(zip.text, `The game could not start: the packages could not be unpacked: BadZipFile. (Reference ${zip.ref})`);
  const long = failure("The game could not start", "x".repeat(20_000));
  assert.equal(long.text, `The game could not start: ${"x".repeat(119)}. (Reference ${long.ref})`);
  assert.equal(long.detail.length, 2500);
  assert.ok(long.detail.startsWith("…x"), "a long detail keeps its end, where the exception is");
  assert.equal(failure("This browser cannot run the game").detail, "This browser cannot run the game");
});

test("the game_error event always fits the server's 4096-character limit on event data", async () => {
  const { failure, showFailure } = await import("../src/game/phase.js");
  globalThis.document ??= /** @type {any} */ ({ body: { dataset: {} } });
  const sent = [];
  const view = { showError() {} };
  const state = { phase: "playing", error: null, error_ref: null, episode: 2 };
  const quoted = 'File "env.py"\n'.repeat(400); // escapes to more characters than it has
  const what = failure("The game stopped because of an error", `${quoted}ValueError: boom`);
  const error = console.error;
  console.error = () => {};
  try {
    showFailure(state, /** @type {any} */ (view), (m) => sent.push(m), "game_error", what);
  } finally {
    console.error = error;
  }
  const [event] = sent;
  assert.ok(JSON.stringify(event.data).length <= 4000, JSON.stringify(event.data).length);
  assert.ok(event.data.detail.endsWith("ValueError: boom"));
  assert.deepEqual([event.data.ref, event.data.episode, state.error_ref], [what.ref, 2, what.ref]);
});
