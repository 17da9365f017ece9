// A game scene on the participant page: boots the Python worker, plays the scene's episodes and
// records them, then continues to the next scene. The game loop and its clock run in the worker;
// this thread reads keys (keyboard.js), draws the frames the worker sends on the next animation
// frame and stamps their records' `t.drawn` (frame-drawer.js, renderer.js), shows the HUD,
// countdowns and status (view.js), and passes the records on to the outbox and the telemetry
// (episode-log.js, recorder.js). Nothing heavy runs here.
//
// Resuming (resume.js): episodes the server has (scene.progress) or this browser queued as
// complete are not played again; an episode cut short by a reload or a crash is replayed from
// its recorded frames in the worker and played on from the next frame, so it ends complete.
//
// For tests, `window.igym.game` is this scene's state and `document.body.dataset.game` its phase:
// loading | countdown | playing | saving | error.

import { PythonWorker } from "../worker/pyworker.js";
import { FRAME, GAME_ERROR, PROGRESS } from "../worker/protocol.js";
import { loadAtlases } from "./atlas.js";
import { EpisodeLog } from "./episode-log.js";
import { FrameDrawer } from "./frame-drawer.js";
import { Keyboard } from "./keyboard.js";
import { Recorder } from "./recorder.js";
import { Renderer } from "./renderer.js";
import { clearPhase, failure, setPhase, showFailure } from "./phase.js";
import { resumePlan } from "./resume.js";
import { missingFeatures, unsupportedText } from "./support.js";
import { GameView } from "./view.js";

/**
 * @typedef {{id: string, kind: "game", title: string, html: string, env: Record<string, any>,
 *            seats: Record<string, {kind: string, policy: string | null}>, human_agent: string,
 *            episodes: number, max_steps: number, fps: number, countdown_s: number,
 *            input_mode: "held" | "press", seeds: number[],
 *            progress: {episode: number, status: string, frames: number}[]}} GameSceneData
 * @typedef {{type: "scene", index: number, count: number, scene: GameSceneData}} GameSceneMessage
 * @typedef {{enqueue: (message: Record<string, unknown>) => number,
 *            onContinue: (sceneId: string, responses: Record<string, never>) => void,
 *            queued?: () => Record<string, unknown>[]}} GameHandlers
 *   enqueue: the outbox; queued: messages the outbox still holds (for resuming)
 */

/**
 * Show and run a game scene in the container.
 * @param {HTMLElement} container
 * @param {GameSceneMessage} message
 * @param {GameHandlers} handlers
 * @returns {{sceneId: string, setBusy: (busy: boolean) => void, destroy: () => void}}
 */
export function renderGame(container, message, handlers) {
  if (/** @type {any} */ (message.scene).mode === "server") return renderLazily("./server-game-scene.js", "renderServerGame", container, message, handlers);
  if (/** @type {any} */ (message.scene).multiplayer) return renderLazily("./net-game-scene.js", "renderNetGame", container, message, handlers);
  const game = new GameScene(container, message, handlers);
  window.igym = Object.assign(window.igym ?? {}, { game: game.state });
  game.run();
  return { sceneId: message.scene.id, setBusy: () => {}, destroy: () => game.destroy() };
}

/**
 * Multiplayer and server scenes load their modules (WebRTC, netplay; the server game's page)
 * only when one is shown.
 * @param {string} path the module
 * @param {string} name its render function
 * @param {HTMLElement} container
 * @param {GameSceneMessage} message
 * @param {GameHandlers} handlers
 * @returns {{sceneId: string, setBusy: (busy: boolean) => void, destroy: () => void,
 *            receive: (m: Record<string, any>) => boolean, resumed: () => void}}
 */
function renderLazily(path, name, container, message, handlers) {
  /** @type {{setBusy: (busy: boolean) => void, destroy: () => void, receive: (m: Record<string, any>) => boolean, resumed: () => void,
   *            leave?: (m: Record<string, any>) => Promise<void> | null} | null} */
  let inner = null;
  let destroyed = false;
  /** @type {Record<string, any>[]} lobby messages that came before the module */
  const early = [];
  import(path)
    .then((module) => {
      if (destroyed) return;
      inner = module[name](container, message, handlers);
      for (const m of early.splice(0)) inner.receive(m);
    })
    .catch((error) => {
      container.textContent = `The game could not be loaded (${error}). Please reload the page.`;
    });
  return {
    sceneId: message.scene.id,
    setBusy: (busy) => inner?.setBusy(busy),
    destroy: () => {
      destroyed = true;
      inner?.destroy();
    },
    /** @param {Record<string, any>} m a lobby / match / signal message for this scene */
    receive: (m) => {
      if (inner) return inner.receive(m);
      early.push(m);
      return true;
    },
    resumed: () => inner?.resumed(),
    /** @param {Record<string, any>} m this participant was excluded (a multiplayer game plays on to its end) */
    leave: (m) => inner?.leave?.(m) ?? null,
  };
}

class GameScene {
  /**
   * @param {HTMLElement} container
   * @param {GameSceneMessage} message
   * @param {GameHandlers} handlers
   */
  constructor(container, message, handlers) {
    this.scene = message.scene;
    this.handlers = handlers;
    this.view = new GameView(container, message);
    this.state = {
      phase: "loading",
      scene_id: this.scene.id,
      episode: -1,
      first_episode: 0,
      /** frames of the first episode replayed after a reload */
      resumed_at: 0,
      /** READY info and load timings from the worker */
      boot: /** @type {Record<string, number | string> | null} */ (null),
      load: /** @type {Record<string, number> | null} */ (null),
      /** episode_end summaries this page sent */
      summaries: /** @type {Record<string, unknown>[]} */ ([]),
      frames_received: 0,
      /** raw samples of every episode so far (benchmarks read them): ms */
      samples: {
        step_ms: /** @type {number[]} */ ([]),
        input_to_drawn_ms: /** @type {number[]} */ ([]),
        tick_late_ms: /** @type {number[]} */ ([]),
      },
      error: /** @type {string | null} */ (null),
      /** the reference number shown with the error */
      error_ref: /** @type {string | null} */ (null),
    };
    this.setPhase("loading");
    /** @type {PythonWorker | null} */
    this.py = null;
    /** @type {Keyboard | null} */
    this.keyboard = null;
    this.recorder = new Recorder(this.scene.id, handlers.enqueue);
    /** @type {Renderer | null} */
    this.renderer = null;
    this.destroyed = false;
    this.log = new EpisodeLog(this.recorder, this.state);
    this.drawer = new FrameDrawer({
      draw: (latest) => {
        /** @type {Renderer} */ (this.renderer).draw(latest.render);
        this.view.updateHud(latest.hud, this.scene);
      },
      committed: (batches, latest) => this.committed(batches, latest),
      focus: (visible) => this.py?.post({ type: "focus", focused: visible }),
    });
    /** the human's reward so far this episode */
    this.score = 0;
    /** @type {((done: {partial: boolean}) => void) | null} */
    this.finishEpisode = null;
    // Where to go on after a reload: decided now, from what the server had stored when it sent
    // this scene and what the outbox still holds. Later the outbox's re-sent chunks are acked
    // and forgotten, while the scene's `resume` does not have them: asking then would lose them.
    const queued = (handlers.queued?.() ?? []).filter((m) => m.scene_id === this.scene.id);
    this.plan = resumePlan(this.scene, queued);
    // a reload or a closed tab: frames that came but were not drawn yet are recorded too
    this.onPageHide = () => {
      if (this.log.open) this.drawer.commit(null);
      this.recorder.flush();
    };
    window.addEventListener("pagehide", this.onPageHide);
  }

  /** @param {string} phase */
  setPhase(phase) {
    setPhase(this.state, phase);
  }

  async run() {
    try {
      const missing = missingFeatures();
      if (missing) {
        this.fail("unsupported_browser", failure(unsupportedText(missing).replace(/\.$/, "")));
        return;
      }
      const atlases = loadAtlases(this.scene.env.assets ?? {});
      await this.boot();
      const room = this.view.container.clientWidth; // the canvas fits the page's width
      this.renderer = new Renderer(this.view.canvas, await atlases, { maxWidth: Math.min(720, room || 720) });
      await this.play();
    } catch (err) {
      if (!this.destroyed && this.state.phase !== "error") {
        this.fail("game_failed", failure("The game could not start", describe(err)));
      }
    }
  }

  async boot() {
    this.view.showLoading("Downloading Python…", 0.02);
    const py = new PythonWorker({ onEvent: (event) => this.workerEvent(event) });
    this.py = py;
    if (window.igym) window.igym.gameWorker = py; // for benchmarks: round trips to this worker
    let ready;
    try {
      ready = await py.ready;
    } catch (err) {
      throw new Error(`Python did not start in this browser (${describe(err)})`);
    }
    this.state.boot = {
      started_at: py.startedAt,
      ready_at: performance.now(),
      ready_ms: ready.ready_ms,
      boot_ms: ready.boot_ms,
      python_version: ready.python_version,
      pyodide_version: ready.pyodide_version,
    };
    this.view.showLoading("Loading the game…", 0.8);
    const load = /** @type {Record<string, number>} */ (
      await py.call({
        cmd: "game_load",
        scene: this.scene,
        packages_url: this.scene.env.packages_url,
        time_origin: performance.timeOrigin,
      })
    );
    this.state.load = { ...load, done_at: performance.now() };
    this.keyboard = new Keyboard(this.scene.env.key_bindings ?? {}, (m) => py.post(m));
    py.post({ type: "focus", focused: document.visibilityState === "visible" });
  }

  /** The episodes not played yet, one after the other; then on to the next scene. */
  async play() {
    const plan = this.plan;
    this.state.first_episode = plan.first;
    this.state.resumed_at = plan.replay.length;
    if (plan.problem) {
      this.fail("cannot_resume", failure("This game cannot go on", plan.problem));
      return;
    }
    for (let episode = plan.first; episode < this.scene.episodes && !this.destroyed; episode += 1) {
      const partial = await this.playEpisode(episode, episode === plan.first ? plan.replay : []);
      if (partial) return; // fail() said what happened
    }
    if (this.destroyed) return;
    this.setPhase("saving");
    this.view.showMessage("Saving…", "Well done! Your game is being saved.");
    this.recorder.flush();
    this.handlers.onContinue(this.scene.id, {});
  }

  /**
   * @param {number} episode
   * @param {import("./resume.js").ReplayFrame[]} replay frames recorded before a reload
   * @returns {Promise<boolean>} whether it ended early (an error)
   */
  async playEpisode(episode, replay) {
    const py = /** @type {PythonWorker} */ (this.py);
    this.state.episode = episode;
    this.drawer.reset();
    const first = /** @type {{render: any[], hud: Record<string, number>, resumed_at?: number, done?: boolean}} */ (
      await py.call({ cmd: "game_start", episode, seed: this.scene.seeds[episode], replay })
    );
    const resumedAt = first.resumed_at ?? 0;
    this.score = resumedAt ? Number(first.hud.score ?? 0) : 0;
    this.log.begin(episode, resumedAt);
    /** @type {any} */ (this.renderer).draw(first.render);
    this.view.updateHud(first.hud, this.scene);
    if (first.done) {
      // every frame was recorded before the reload; only the episode's end was not sent
      this.closeEpisode(false, { resumed_at: resumedAt });
      return false;
    }
    await this.countdown(episode);
    if (this.destroyed) return true;
    const finished = new Promise((resolve) => {
      this.finishEpisode = resolve;
    });
    this.setPhase("playing");
    this.view.hideOverlay();
    this.keyboard?.setEnabled(true);
    await py.call({ cmd: "game_run" });
    const { partial } = /** @type {{partial: boolean}} */ (await finished);
    this.keyboard?.setEnabled(false);
    if (partial || this.destroyed) return true; // the episode stays open: a reload goes on
    this.closeEpisode(false, resumedAt ? { resumed_at: resumedAt } : {});
    return false;
  }

  /**
   * Send the rest of the episode's records and its episode_end with the summary (once).
   * @param {boolean} partial
   * @param {Record<string, string | number | boolean | null>} [extra] more summary fields
   */
  closeEpisode(partial, extra = {}) {
    this.log.close(partial, this.score, {
      clock_drift_ms: this.log.telemetry.drift(this.scene.fps),
      ready_ms: numberOrNull(this.state.boot?.ready_ms),
      ...extra,
    });
  }

  /** @param {number} episode */
  async countdown(episode) {
    const seconds = Math.max(0, Math.round(this.scene.countdown_s ?? 0));
    if (seconds === 0) return;
    this.setPhase("countdown");
    const previous = this.state.summaries.at(-1);
    for (let left = seconds; left > 0 && !this.destroyed; left -= 1) {
      this.view.showRoundCountdown(episode, this.scene.episodes, previous, left);
      await sleep(1000);
    }
  }

  /** @param {import("../worker/protocol.js").EventMessage} event */
  workerEvent(event) {
    if (this.destroyed) return;
    if (event.type === FRAME) {
      this.frameArrived(event);
    } else if (event.type === PROGRESS) {
      if (this.state.phase === "loading") this.view.showLoading(stageText(event.stage), event.fraction);
    } else if (event.type === GAME_ERROR) {
      this.endEarly("game_error", failure("The game stopped because of an error", event.message));
    } else if (event.type === "crash") {
      this.endEarly("worker_crashed", failure("The game stopped unexpectedly", event.message));
    }
  }

  /** @param {any} frame a FRAME message */
  frameArrived(frame) {
    if (frame.episode !== this.state.episode || this.state.phase === "error") return;
    this.state.frames_received += frame.records.length;
    this.drawer.receive(frame, frame.records);
  }

  /**
   * Frame records are stamped (drawn, or never will be): record them; the episode is over when
   * one of them ends it or the worker said so.
   * @param {import("./frame-drawer.js").Batch[]} batches
   * @param {any} latest the newest frame
   */
  committed(batches, latest) {
    this.log.add(batches);
    let done = Boolean(latest?.done);
    for (const { records } of batches) {
      for (const record of records) {
        this.score += Number(record.rewards[this.scene.human_agent] ?? 0);
        if (record.terminated || record.truncated) done = true;
      }
    }
    if (done && this.finishEpisode) {
      const finish = this.finishEpisode;
      this.finishEpisode = null;
      finish({ partial: false });
    }
  }

  /**
   * Something broke mid-episode: send what was recorded and explain. The episode is not
   * closed: after a reload the page replays its frames and goes on where it stopped.
   * @param {string} code
   * @param {import("./phase.js").Failure} what
   */
  endEarly(code, what) {
    if (this.state.phase === "error") return;
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    this.drawer.commit(null);
    this.recorder.flush();
    this.fail(code, what);
    finish?.({ partial: true });
  }

  /**
   * Show a failure and log it on the server.
   * @param {string} code
   * @param {import("./phase.js").Failure} what
   */
  fail(code, what) {
    this.keyboard?.setEnabled(false);
    this.py?.terminate(); // whatever state it is in, it plays no more
    showFailure(this.state, this.view, this.handlers.enqueue, code, what);
  }

  destroy() {
    this.destroyed = true;
    window.removeEventListener("pagehide", this.onPageHide);
    this.drawer.destroy();
    this.keyboard?.destroy();
    this.recorder.destroy();
    this.py?.terminate();
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    finish?.({ partial: true });
    clearPhase();
  }
}

/** @param {string} stage @returns {string} */
function stageText(stage) {
  switch (stage) {
    case "downloading":
      return "Downloading Python…";
    case "starting":
      return "Starting Python…";
    case "packages":
      return "Downloading the game…";
    default:
      return "Preparing the game…";
  }
}

/** @param {unknown} x */
function numberOrNull(x) {
  return typeof x === "number" ? Math.round(x) : null;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
