// A server-authoritative game scene (`mode: "server"`): the environment runs on the igym server;
// this page only shows its frames and sends its keys. No Python, no worker.
//
//   lobby_join -> "lobby" (waiting count) -> "match" (members, this page's agent) ->
//   "match_start" -> server_ready -> per episode: "server_episode" (countdown, first frame) ->
//   "server_frame" ... (draw objects or an encoded image; done on the last) ->
//   "server_game_end" (completed: submit and go on; error: say so) or "match_ended" (a partner left).
//
// Keys go out at once as `server_input` (fire and forget, stamped with the key event's time);
// every half second `server_drawn` tells the server when each frame was drawn (t.drawn of the
// records the server stores; null for frames never on screen: tab hidden, or no animation frame
// within DRAW_TIMEOUT_MS). The server records everything: this page uploads no frames.
//
// For tests, `window.igym.game` is this scene's state and `document.body.dataset.game` its phase:
// waiting | loading | countdown | playing | saving | ended | error.

import { fromBase64 } from "../base64.js";
import { loadAtlases } from "./atlas.js";
import { DRAW_TIMEOUT_MS } from "./frame-drawer.js";
import { Keyboard } from "./keyboard.js";
import { LobbyView, sendLobbyJoin, waitingCount } from "./lobby-view.js";
import { clearPhase, setPhase, showFailure } from "./phase.js";
import { Renderer } from "./renderer.js";
import { percentiles } from "./stats.js";
import { GameView } from "./view.js";

/** How often the page tells the server which frames it drew. */
export const DRAWN_REPORT_MS = 500;

/**
 * @typedef {import("./game-scene.js").GameSceneMessage} GameSceneMessage
 * @typedef {import("./net-game-scene.js").NetHandlers} ServerHandlers
 * @typedef {{render?: any[], image?: {format: string, data: string, width: number, height: number},
 *            hud: Record<string, any>, scores: Record<string, number>}} ServerFramePayload
 */

/**
 * @param {HTMLElement} container
 * @param {GameSceneMessage} message
 * @param {ServerHandlers} handlers
 */
export function renderServerGame(container, message, handlers) {
  const game = new ServerGameScene(container, message, handlers);
  window.igym = Object.assign(window.igym ?? {}, { game: game.state });
  game.run();
  return {
    sceneId: message.scene.id,
    setBusy: () => {},
    destroy: () => game.destroy(),
    /** @param {Record<string, any>} m */
    receive: (m) => game.receive(m),
    resumed: () => game.resumed(),
  };
}

/**
 * Which frames were drawn when: frames arrive with the count the episode has reached; a paint
 * puts the newest on screen, and every frame received since the last paint is drawn "now".
 */
export class DrawnFrames {
  constructor() {
    /** the first frame of the episode not received yet */
    this.received = 0;
    /** @type {number[]} received, not yet drawn */
    this.waiting = [];
    /** @type {[number, number | null][]} drawn (or never), not yet reported */
    this.report = [];
  }

  /** @param {number} frames the episode's frame count after this message */
  arrived(frames) {
    for (let f = this.received; f < frames; f += 1) this.waiting.push(f);
    this.received = Math.max(this.received, frames);
  }

  /** @param {number | null} t when the newest received frame was drawn (null: never) */
  drawn(t) {
    for (const f of this.waiting) this.report.push([f, t]);
    this.waiting = [];
  }

  /** @returns {[number, number | null][]} what to report, once */
  take() {
    const out = this.report;
    this.report = [];
    return out;
  }

  reset() {
    this.received = 0;
    this.waiting = [];
    this.report = [];
  }
}

class ServerGameScene {
  /**
   * @param {HTMLElement} container
   * @param {GameSceneMessage} message
   * @param {ServerHandlers} handlers
   */
  constructor(container, message, handlers) {
    this.scene = /** @type {any} */ (message.scene);
    this.handlers = handlers;
    this.view = new GameView(container, message);
    this.lobby = new LobbyView(this.view);
    this.state = {
      phase: "waiting",
      scene_id: this.scene.id,
      mode: "server",
      episode: -1,
      waiting: /** @type {number | null} */ (null),
      match: /** @type {{match_id: string, you: number, agent: string} | null} */ (null),
      frames_received: 0,
      images_received: 0,
      image_bytes: 0,
      ended: /** @type {string | null} */ (null),
      summaries: /** @type {Record<string, unknown>[]} */ ([]),
      samples: { input_to_drawn_ms: /** @type {number[]} */ ([]), decode_ms: /** @type {number[]} */ ([]) },
      hud: /** @type {Record<string, any> | null} */ (null),
      error: /** @type {string | null} */ (null),
    };
    /** @type {Renderer | null} */
    this.renderer = null;
    /** @type {Promise<void> | null} */
    this.loaded = null;
    /** @type {Keyboard | null} */
    this.keyboard = null;
    this.drawnFrames = new DrawnFrames();
    /** @type {{payload: ServerFramePayload, bitmap: ImageBitmap | null, keys: Record<string, number | null>} | null} newest frame, to draw */
    this.latest = null;
    this.rafPending = false;
    this.drawTimer = 0;
    this.reportTimer = 0;
    this.decoding = Promise.resolve();
    this.destroyed = false;
    this.finished = false;
    this.onVisibility = () => this.visibilityChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** @param {string} phase */
  setPhase(phase) {
    setPhase(this.state, phase);
  }

  run() {
    this.loaded = this.load();
    this.loaded.catch((err) => this.fail("game_failed", `The game could not start: ${describe(err)}`));
    this.join();
  }

  async load() {
    const atlases = await loadAtlases(this.scene.env.assets ?? {});
    const room = this.view.container.clientWidth;
    this.renderer = new Renderer(this.view.canvas, atlases, { maxWidth: Math.min(720, room || 720) });
  }

  join() {
    this.setPhase("waiting");
    const alone = (this.scene.server?.human_agents ?? []).length <= 1;
    if (alone) this.view.showMessage("Starting", "Starting the game…");
    else this.lobby.showWaiting(this.state.waiting);
    sendLobbyJoin(this.scene.id, this.handlers);
  }

  /** The websocket reconnected and the server re-sent the scene: say we are here. */
  resumed() {
    if (this.destroyed || this.state.ended !== null) return;
    if (this.state.match) this.send({ type: "server_ready" });
    else this.join();
  }

  /**
   * A fire-and-forget message for this game (keys, ready, drawn), stamped with the page clock.
   * @param {Record<string, unknown>} message
   */
  send(message) {
    const match = this.state.match;
    if (!match) return;
    this.handlers.signal?.({ ...message, match_id: match.match_id, now: performance.now() });
  }

  // -- server messages ---------------------------------------------------------------------------

  /**
   * @param {Record<string, any>} message
   * @returns {boolean} whether this scene handled it
   */
  receive(message) {
    if (this.destroyed) return false;
    if (message.scene_id !== undefined && message.scene_id !== this.scene.id) return false;
    const match = this.state.match;
    switch (message.type) {
      case "lobby":
        waitingCount(this.state, this.lobby, message);
        return true;
      case "match":
        this.matched(message);
        return true;
      case "match_start":
        if (message.match_id === match?.match_id) this.start();
        return true;
      case "server_episode":
        if (message.match_id === match?.match_id) this.episodeStarts(message);
        return true;
      case "server_frame":
        if (message.match_id === match?.match_id && message.episode === this.state.episode) this.frameArrived(message);
        return true;
      case "server_game_end":
        if (message.match_id === match?.match_id) this.gameEnded(message.reason, message.message);
        return true;
      case "match_ended":
        if (message.match_id === match?.match_id) this.stopped("The game has ended", message.message, message.reason);
        return true;
      case "lobby_timeout":
        if (!match) {
          this.state.ended = "waiting_timeout";
          this.setPhase("ended");
          this.lobby.showFinal("timeout", "No partner found", message.message, {
            redirectUrl: message.redirect_url ?? null,
            onContinue: () => this.continueScene(),
          });
        }
        return true;
      case "requeued":
      case "signal":
      case "relay":
      case "parity":
        return true; // peer-to-peer business: not for a server game
      default:
        return false;
    }
  }

  /** @param {Record<string, any>} message the "match" message */
  matched(message) {
    const you = Number(message.you);
    const member = message.members?.[you];
    this.state.match = { match_id: message.match_id, you, agent: member?.agents?.[0] ?? this.scene.human_agent };
    if (this.state.phase === "waiting") this.view.showMessage("Starting", "Starting the game…");
  }

  async start() {
    try {
      this.setPhase("loading");
      await this.loaded;
      if (this.destroyed) return;
      this.keyboard = new Keyboard(this.scene.env.key_bindings ?? {}, (m) =>
        this.send({ type: "server_input", kind: m.kind, action: m.action ?? null, t: m.t ?? null }),
      );
      this.send({ type: "server_input", kind: "focus", focused: document.visibilityState === "visible" });
      this.send({ type: "server_ready" });
      clearInterval(this.reportTimer);
      this.reportTimer = window.setInterval(() => this.reportDrawn(), DRAWN_REPORT_MS);
    } catch (err) {
      this.fail("game_failed", `The game could not start: ${describe(err)}`);
    }
  }

  /** @param {{episode: number, countdown_ms: number, frame: ServerFramePayload}} message */
  async episodeStarts(message) {
    this.reportDrawn();
    this.state.episode = message.episode;
    this.drawnFrames.reset();
    this.drawnFrames.received = Number(message.frame.hud?.frame ?? 0);
    this.latest = null;
    await this.show(message.frame, {});
    this.paintNow();
    if (message.countdown_ms > 0) {
      this.setPhase("countdown");
      this.keyboard?.setEnabled(false);
      const startAt = performance.now() + message.countdown_ms;
      const previous = this.state.summaries.at(-1);
      for (;;) {
        const left = startAt - performance.now();
        if (left <= 0 || this.destroyed || this.state.episode !== message.episode) break;
        this.view.showRoundCountdown(message.episode, this.scene.episodes, previous, Math.ceil(left / 1000));
        await sleep(Math.min(left, left % 1000 || 1000));
      }
    }
    if (this.destroyed || this.state.episode !== message.episode || this.state.ended !== null) return;
    this.setPhase("playing");
    this.view.hideOverlay();
    this.keyboard?.setEnabled(true);
  }

  /** @param {{episode: number, frames: number, frame: ServerFramePayload, keys: Record<string, number | null>, done: boolean}} message */
  frameArrived(message) {
    this.state.frames_received += 1;
    this.drawnFrames.arrived(message.frames);
    const keys = message.keys ?? {};
    this.show(message.frame, keys).then(() => this.schedulePaint());
    if (message.done) this.episodeDone(message.episode);
  }

  /**
   * Decode (images) in order, then keep as the newest frame to draw.
   * @param {ServerFramePayload} payload
   * @param {Record<string, number | null>} keys
   */
  show(payload, keys) {
    this.decoding = this.decoding.then(async () => {
      let bitmap = null;
      if (payload.image) {
        const t0 = performance.now();
        const bytes = fromBase64(payload.image.data);
        this.state.images_received += 1;
        this.state.image_bytes += bytes.length;
        bitmap = await createImageBitmap(new Blob([bytes], { type: `image/${payload.image.format}` }));
        this.state.samples.decode_ms.push(performance.now() - t0);
      }
      this.latest?.bitmap?.close();
      this.latest = { payload, bitmap, keys };
    });
    return this.decoding;
  }

  schedulePaint() {
    if (document.visibilityState === "hidden") {
      this.drawnFrames.drawn(null);
      return;
    }
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => this.paintNow());
    this.drawTimer = window.setTimeout(() => this.drawnFrames.drawn(null), DRAW_TIMEOUT_MS);
  }

  /** Draw the newest frame; every frame received since the last paint is drawn now. */
  paintNow() {
    this.rafPending = false;
    clearTimeout(this.drawTimer);
    const latest = this.latest;
    if (this.destroyed || !latest || !this.renderer) return;
    if (latest.bitmap) this.renderer.image(latest.bitmap);
    else this.renderer.draw(latest.payload.render ?? []);
    const hud = latest.payload.hud ?? {};
    const agent = this.state.match?.agent ?? this.scene.human_agent;
    this.state.hud = { ...hud, score: latest.payload.scores?.[agent] ?? hud.score };
    this.view.updateHud(/** @type {any} */ (this.state.hud), this.scene, agent);
    const now = performance.now();
    const key = latest.keys?.[agent];
    if (typeof key === "number" && this.drawnFrames.waiting.length) this.state.samples.input_to_drawn_ms.push(now - key);
    this.drawnFrames.drawn(now);
  }

  reportDrawn() {
    const frames = this.drawnFrames.take();
    if (frames.length && this.state.episode >= 0) this.send({ type: "server_drawn", episode: this.state.episode, frames });
  }

  /** @param {number} episode */
  episodeDone(episode) {
    this.keyboard?.setEnabled(false);
    this.state.summaries.push({
      episode,
      score: this.state.hud?.score ?? null,
      ...percentiles("latency", this.state.samples.input_to_drawn_ms),
    });
    // the last frames' draw times go out as soon as they are drawn
    setTimeout(() => this.reportDrawn(), 100);
  }

  visibilityChanged() {
    const visible = document.visibilityState === "visible";
    this.send({ type: "server_input", kind: "focus", focused: visible });
    if (!visible) this.drawnFrames.drawn(null);
  }

  /** @param {string} reason @param {string} text */
  gameEnded(reason, text) {
    if (reason === "completed") {
      this.reportDrawn();
      this.state.ended = "completed";
      this.setPhase("saving");
      this.view.showMessage("Saving…", "Well done! Your game is being saved.");
      this.continueScene();
    } else if (reason === "error") {
      // the server kept every frame and ended the match: say what happened and go on
      this.state.error = text;
      this.handlers.enqueue({ type: "event", name: "game_error", data: { code: "game_error", message: text.slice(0, 500), episode: this.state.episode } });
      this.stopped("The game stopped", `${text} Your data is saved; you can go on.`, "error");
    } else {
      this.stopped("The game has ended", text || "The game was stopped.", reason);
    }
  }

  /** @param {string} title @param {string} text @param {string} reason */
  stopped(title, text, reason) {
    if (this.finished) return;
    this.state.ended = reason;
    this.keyboard?.setEnabled(false);
    this.reportDrawn();
    this.setPhase("ended");
    this.lobby.showFinal("partner_left", title, text, { onContinue: () => this.continueScene() });
  }

  continueScene() {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.reportTimer);
    this.handlers.onContinue(this.scene.id, {});
  }

  /** @param {string} code @param {string} text */
  fail(code, text) {
    if (this.destroyed) return;
    this.keyboard?.setEnabled(false);
    showFailure(this.state, this.view, this.handlers.enqueue, code, text);
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.reportTimer);
    clearTimeout(this.drawTimer);
    this.reportDrawn();
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.lobby.destroy();
    this.keyboard?.destroy();
    clearPhase();
  }
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
