// Per-episode timing of the input pipeline, from the timestamps every frame record carries
// (ms on the page's clock): key event -> sampled at a tick -> stepped in Python -> drawn.
// Its summary goes into episode_end, where the server stores it next to the episode.

import { percentiles, round } from "./stats.js";

export class EpisodeTelemetry {
  constructor() {
    /** key event -> drawn, for frames whose action came from a new key event */
    this.inputToDrawn = /** @type {number[]} */ ([]);
    this.inputToTick = /** @type {number[]} */ ([]);
    this.tickToDrawn = /** @type {number[]} */ ([]);
    /** the worker's Python call per tick */
    this.stepMs = /** @type {number[]} */ ([]);
    /** how late each tick ran after its due time */
    this.lateMs = /** @type {number[]} */ ([]);
    this.frames = 0;
    this.unfocused = 0;
    this.undrawn = 0;
    this.batched = 0;
    /** @type {number | null} the tick time of the first and the last frame */
    this.firstTick = null;
    /** @type {number | null} */
    this.lastTick = null;
  }

  /**
   * A record without a tick (in a multiplayer game, the first input_delay frames of an episode
   * have no local input sample) is timed from its step.
   * @param {import("./recorder.js").FrameRecord[]} records
   * @param {{step_ms: number, ticks: number, late_ms: number}} telemetry of the worker tick that made them
   */
  add(records, telemetry) {
    this.stepMs.push(telemetry.step_ms);
    this.lateMs.push(telemetry.late_ms);
    if (telemetry.ticks > 1) this.batched += telemetry.ticks - 1;
    for (const { t, focused } of records) {
      const tick = t.tick ?? t.step;
      this.frames += 1;
      this.firstTick ??= tick;
      this.lastTick = tick;
      if (!focused) this.unfocused += 1;
      if (t.drawn === null) {
        this.undrawn += 1;
      } else {
        this.tickToDrawn.push(t.drawn - tick);
        if (t.key !== null) this.inputToDrawn.push(t.drawn - t.key);
      }
      if (t.key !== null) this.inputToTick.push(tick - t.key);
    }
  }

  /**
   * How far the clock strayed: the first-to-last tick span minus what fps says it should be
   * (positive: the episode took longer than its frames at fps).
   * @param {number} fps
   * @returns {number | null} ms
   */
  drift(fps) {
    if (this.firstTick === null || this.lastTick === null) return null;
    return round(this.lastTick - this.firstTick - ((this.frames - 1) * 1000) / fps);
  }

  /** @returns {Record<string, number | null>} flat, for the episode_end summary */
  summary() {
    return {
      ...percentiles("latency", this.inputToDrawn),
      latency_samples: this.inputToDrawn.length,
      ...percentiles("input_to_tick", this.inputToTick),
      ...percentiles("tick_to_drawn", this.tickToDrawn),
      ...percentiles("step", this.stepMs),
      ...percentiles("tick_late", this.lateMs),
      frames_unfocused: this.unfocused,
      frames_undrawn: this.undrawn,
      frames_batched: this.batched,
      frames_seen: round(this.frames, 0),
    };
  }
}
