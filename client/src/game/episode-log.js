// A game scene's episodes as they are recorded, for both game scenes: the committed frame
// records (see frame-drawer.js) go to the recorder (recorder.js: episode_start, `frames` chunks,
// episode_end) and into the episode's telemetry (telemetry.js). Closing an episode sends its
// episode_end with the summary and keeps, for tests and benchmarks, the summary and the raw
// telemetry samples in the scene's state (`window.igym.game.summaries` and `.samples`).

import { EpisodeTelemetry } from "./telemetry.js";

/** state.samples key -> the EpisodeTelemetry samples appended to it when an episode closes */
const SAMPLES = /** @type {const} */ ({ step_ms: "stepMs", input_to_drawn_ms: "inputToDrawn", tick_late_ms: "lateMs" });

/** @typedef {Record<string, string | number | boolean | null>} Summary  flat, as episode_end wants it */

export class EpisodeLog {
  /**
   * @param {import("./recorder.js").Recorder} recorder
   * @param {{summaries: Record<string, unknown>[], samples: Record<string, any>}} state the
   *   scene's state: `summaries` gets every closed episode's; each of `samples.step_ms`,
   *   `samples.input_to_drawn_ms` and `samples.tick_late_ms` that the state has gets the episode's samples
   */
  constructor(recorder, state) {
    this.recorder = recorder;
    this.state = state;
    this.episode = -1;
    /** whether episode_start was sent and episode_end not yet */
    this.open = false;
    /** frame records of the episode so far */
    this.frames = 0;
    this.telemetry = new EpisodeTelemetry();
  }

  /**
   * @param {number} episode sends episode_start
   * @param {number} [resumedAt] frames recorded before a reload (the episode goes on from there)
   */
  begin(episode, resumedAt = 0) {
    this.episode = episode;
    this.frames = resumedAt;
    this.telemetry = new EpisodeTelemetry();
    this.recorder.begin(episode);
    this.open = true;
  }

  /** @param {import("./frame-drawer.js").Batch[]} batches committed records (t.drawn stamped) */
  add(batches) {
    for (const { records, telemetry } of batches) {
      this.frames += records.length;
      this.telemetry.add(records, telemetry);
      this.recorder.add(records);
    }
  }

  /**
   * Send the rest of the episode's records and its episode_end (once; later calls do nothing).
   * The summary is `{score, <the telemetry's fields>, ...fields}`.
   * @param {boolean} partial
   * @param {number} score
   * @param {Summary} fields the scene's own
   */
  close(partial, score, fields) {
    if (!this.open) return;
    this.open = false;
    const summary = { score, ...this.telemetry.summary(), ...fields };
    this.recorder.end({ frames: this.frames, partial, summary });
    for (const [key, field] of Object.entries(SAMPLES)) {
      if (Array.isArray(this.state.samples[key])) this.state.samples[key].push(...this.telemetry[field]);
    }
    this.state.summaries.push({ episode: this.episode, frames: this.frames, partial, ...summary });
  }
}
