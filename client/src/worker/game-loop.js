// The game loop of a game scene, inside the worker: unpacks the environment's packages into
// Pyodide, builds igym_core.runtime.play.LocalPlay, and runs the game clock at the scene's fps.
//
// Each tick samples the input (input-state.js), makes ONE Python call (LocalPlay.advance, with a
// JSON string in and out) and posts ONE "frame" message: the frame records, the render of the
// new state, the HUD values and telemetry. When the worker falls behind (a long garbage
// collection, a throttled tab), the ticks that are due run in that same single call, so an
// episode keeps its real-time length and no frame is skipped.
//
// Timestamps are in ms on the MAIN thread's performance.now() clock (the page's clock), so the
// main thread can subtract them from its own: the worker's performance.now() has another origin.

import { InputState } from "./input-state.js";
import { FRAME, GAME_ERROR, PROGRESS } from "./protocol.js";

/** At most this many due ticks run in one Python call; the rest follow right after. */
const MAX_BATCH = 10;

/** Python glue: the one function a tick calls. `scene` is set from JS before it runs. */
const GLUE = `
import json as _json
from igym_core.runtime.play import LocalPlay as _LocalPlay

_igym_play = _LocalPlay(_json.loads(_igym_scene_json))

def _igym_start(episode, seed, replay_json):
    replay = _json.loads(replay_json)
    if replay:
        return _json.dumps(_igym_play.resume(episode, seed, replay))
    return _json.dumps(_igym_play.start(episode, seed))

def _igym_advance(inputs_json):
    return _json.dumps(_igym_play.advance(_json.loads(inputs_json)))
`;

/**
 * @typedef {{episode: number, records: object[], render: object[], hud: Record<string, number>,
 *            done: boolean, telemetry: {step_ms: number, ticks: number, late_ms: number}}} FrameMessage
 */

export class GameLoop {
  /**
   * @param {any} pyodide
   * @param {(message: object) => void} post sends a message to the main thread
   */
  constructor(pyodide, post) {
    this.pyodide = pyodide;
    this.post = post;
    /** @type {InputState} */
    this.input = new InputState("held");
    /** ms to add to this worker's performance.now() to get the main thread's clock */
    this.clockOffset = 0;
    this.fps = 30;
    this.periodMs = 1000 / 30;
    this.episode = -1;
    this.running = false;
    this.timer = 0;
    this.t0 = 0;
    this.ticks = 0;
    /** @type {((inputs: string) => string) | null} */
    this.advanceFn = null;
    /** @type {((episode: number, seed: number, replay: string) => string) | null} */
    this.startFn = null;
  }

  /** @returns {number} now, on the main thread's clock */
  now() {
    return performance.now() + this.clockOffset;
  }

  /**
   * Fetch and unpack the packages zip, import the runtime, build the game.
   * @param {{scene: Record<string, any>, packages_url: string, time_origin: number}} command
   */
  async load(command) {
    const { scene } = command;
    this.clockOffset = performance.timeOrigin - command.time_origin;
    this.fps = Number(scene.fps) || 30;
    this.periodMs = 1000 / this.fps;
    this.input = new InputState(scene.input_mode === "press" ? "press" : "held");
    const t0 = performance.now();
    const data = await this.fetchPackages(command.packages_url);
    const fetched = performance.now();
    this.post({ type: PROGRESS, stage: "unpacking", fraction: 0.9 });
    const sitePackages = this.pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
    try {
      this.pyodide.unpackArchive(data, "zip", { extractDir: sitePackages });
    } catch (err) {
      throw new Error(`the game's packages could not be unpacked: ${describe(err)}`);
    }
    const unpacked = performance.now();
    this.post({ type: PROGRESS, stage: "importing", fraction: 0.95 });
    this.pyodide.globals.set("_igym_scene_json", JSON.stringify(scene));
    this.pyodide.runPython(GLUE);
    this.startFn = this.pyodide.globals.get("_igym_start");
    this.advanceFn = this.pyodide.globals.get("_igym_advance");
    return loadTimings(data.byteLength, t0, fetched, unpacked, performance.now());
  }

  /** @param {string} url @returns {Promise<Uint8Array>} */
  async fetchPackages(url) {
    let response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new Error(`the game's packages could not be downloaded (${url}): ${describe(err)}`);
    }
    if (!response.ok || !response.body) {
      throw new Error(`the game's packages could not be downloaded (${url}): HTTP ${response.status}`);
    }
    const total = Number(response.headers.get("Content-Length")) || 0;
    const reader = response.body.getReader();
    /** @type {Uint8Array[]} */
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      if (total) this.post({ type: PROGRESS, stage: "packages", fraction: 0.8 + 0.1 * (received / total) });
    }
    const data = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      data.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return data;
  }

  /**
   * Reset for an episode; the clock does not run until run(). With `replay` (the frames a
   * reloaded page had already recorded), the game replays them first and goes on from there.
   * @param {{episode: number, seed: number, replay?: object[]}} command
   * @returns {{render: object[], hud: Record<string, number>, resumed_at?: number}}
   */
  start(command) {
    if (!this.startFn) throw new Error("the game is not loaded");
    this.stop();
    this.episode = command.episode;
    this.input.clear();
    return JSON.parse(this.startFn(command.episode, command.seed, JSON.stringify(command.replay ?? [])));
  }

  /** Start the clock: the first tick is now, then one every 1/fps s, without drift. */
  run() {
    if (!this.advanceFn) throw new Error("the game is not loaded");
    this.stop();
    this.running = true;
    this.t0 = performance.now();
    this.ticks = 0;
    this.tick();
    return { t0: this.t0 + this.clockOffset };
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  /**
   * An input message from the main thread (it bypasses the command queue: no reply).
   * @param {{type: "input", kind: "down" | "up" | "clear", action?: number, t?: number} | {type: "focus", focused: boolean}} message
   */
  receive(message) {
    if (message.type === "focus") {
      this.input.setFocused(Boolean(message.focused));
    } else if (message.kind === "down") {
      this.input.down(Number(message.action), Number(message.t));
    } else if (message.kind === "up") {
      this.input.up(Number(message.action));
    } else if (message.kind === "clear") {
      this.input.clear();
    }
  }

  tick() {
    if (!this.running || !this.advanceFn) return;
    const started = performance.now();
    const due = Math.floor((started - this.t0) / this.periodMs) + 1 - this.ticks;
    const count = Math.max(1, Math.min(MAX_BATCH, due));
    const tickAt = started + this.clockOffset;
    const late = started - (this.t0 + this.ticks * this.periodMs);
    /** @type {(number | boolean | null)[][]} */
    const inputs = [];
    /** @type {(number | null)[]} */
    const keyTimes = [];
    for (let i = 0; i < count; i += 1) {
      const sample = this.input.sample();
      inputs.push([sample.action, this.input.focused]);
      keyTimes.push(sample.key_t);
    }
    let out;
    try {
      out = JSON.parse(this.advanceFn(JSON.stringify(inputs)));
    } catch (err) {
      this.stop();
      this.post({ type: GAME_ERROR, episode: this.episode, message: describe(err) });
      return;
    }
    const stepped = performance.now();
    out.records.forEach((/** @type {any} */ record, /** @type {number} */ i) => {
      const key = keyTimes[out.input_index[i]];
      record.t = { key, tick: tickAt, step: stepped + this.clockOffset, drawn: null };
    });
    // the clock counts ticks, not frames: a turn-based or step-on-input scene may advance no
    // frame at a tick
    this.ticks += count;
    /** @type {FrameMessage} */
    const message = {
      episode: this.episode,
      records: out.records,
      render: out.render,
      hud: out.hud,
      done: out.done,
      telemetry: { step_ms: stepped - started, ticks: count, late_ms: Math.max(0, late) },
    };
    this.post({ type: FRAME, ...message });
    if (out.done) {
      this.stop();
      return;
    }
    const next = this.t0 + this.ticks * this.periodMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a game load took (ms on this worker's clock), for the page's load telemetry.
 * @param {number} bytes the packages' zip
 * @param {number} t0 @param {number} fetched @param {number} unpacked @param {number} imported
 */
export function loadTimings(bytes, t0, fetched, unpacked, imported) {
  return {
    bytes,
    fetch_ms: fetched - t0,
    unpack_ms: unpacked - fetched,
    import_ms: imported - unpacked,
    load_ms: imported - t0,
  };
}
