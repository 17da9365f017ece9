// A multiplayer game scene on the participant page: waiting room, matching, the peer-to-peer
// connection and its checks, then the episodes, played with rollback in the worker.
//
//   lobby_join -> "lobby" (waiting count) -> "match" (members, ICE servers, seeds)
//   -> open a data channel to every partner (p2p/mesh.js), 5 pings -> "probe" {ok, rtt_ms}
//   -> "match_start" (or "requeued": back to waiting) -> per episode: health check, everyone
//   ready, synchronized countdown, play until the worker says the episode is settled and agreed
//   by every peer -> frames + episode_end (the canonical records) -> after the last: submit.
//
// This thread only bridges: packets from the data channels go to the worker (batched per task,
// ArrayBuffers transferred), packets from the worker go to the data channels; the worker's frames
// are drawn on the next animation frame. The server's "parity" verdicts are kept for tests.
//
// For tests, `window.igym.game` is this scene's state and `document.body.dataset.game` its phase:
// loading | waiting | connecting | countdown | playing | saving | ended | error.

import { PeerMesh } from "../p2p/mesh.js";
import { NET_FRAME, NET_PACKETS } from "../worker/net-loop.js";
import { PythonWorker } from "../worker/pyworker.js";
import { GAME_ERROR, PROGRESS } from "../worker/protocol.js";
import { loadAtlases } from "./atlas.js";
import { Keyboard } from "./keyboard.js";
import { LobbyView } from "./lobby-view.js";
import { Recorder } from "./recorder.js";
import { Renderer } from "./renderer.js";
import { percentiles } from "./stats.js";
import { missingFeatures } from "./support.js";
import { EpisodeTelemetry } from "./telemetry.js";
import { GameView } from "./view.js";

const DRAW_TIMEOUT_MS = 1000;
/** Opening the data channels (ICE, DTLS, SCTP) may take this long. */
const CONNECT_TIMEOUT_MS = 20_000;
const PING_TIMEOUT_MS = 10_000;
/** Waiting for the partners to be ready for an episode (they may still be loading Python). */
const READY_TIMEOUT_MS = 120_000;
/** After the partner closed the connection, an open episode may still settle this long. */
const SETTLE_AFTER_CLOSE_MS = 4_000;
const PARTNER_LEFT = "Your partner left the game or lost the connection. Your data is saved; you can go on.";
/** A silence shorter than this is not worth an overlay. */
const RECONNECTING_AFTER_MS = 500;

/**
 * @typedef {import("./game-scene.js").GameSceneMessage} GameSceneMessage
 * @typedef {import("../p2p/mesh.js").MatchMessage} MatchMessage
 * @typedef {import("./game-scene.js").GameHandlers & {
 *   signal?: (message: Record<string, unknown>) => boolean,
 *   serverRtt?: () => number | null,
 * }} NetHandlers  signal: send a message on the websocket now (signaling is not acked)
 */

/**
 * @param {HTMLElement} container
 * @param {GameSceneMessage} message
 * @param {NetHandlers} handlers
 */
export function renderNetGame(container, message, handlers) {
  const game = new NetGameScene(container, message, handlers);
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

class NetGameScene {
  /**
   * @param {HTMLElement} container
   * @param {GameSceneMessage} message
   * @param {NetHandlers} handlers
   */
  constructor(container, message, handlers) {
    this.scene = /** @type {any} */ (message.scene);
    this.handlers = handlers;
    this.view = new GameView(container, message);
    this.lobby = new LobbyView(this.view);
    this.state = {
      phase: "loading",
      scene_id: this.scene.id,
      multiplayer: true,
      episode: -1,
      waiting: /** @type {number | null} */ (null),
      match: /** @type {{match_id: string, you: number, members: string[]} | null} */ (null),
      matches_tried: 0,
      probe_rtt_ms: /** @type {number | null} */ (null),
      requeued: /** @type {string[]} */ ([]),
      parity: /** @type {Record<string, string>} */ ({}),
      summaries: /** @type {Record<string, unknown>[]} */ ([]),
      events: /** @type {Record<string, unknown>[]} */ ([]),
      ended: /** @type {string | null} */ (null),
      boot: /** @type {Record<string, number | string> | null} */ (null),
      frames_received: 0,
      samples: {
        step_ms: /** @type {number[]} */ ([]),
        input_to_drawn_ms: /** @type {number[]} */ ([]),
        /** worker ticks that rolled back: the tick's Python call, ms, and how deep */
        rollback_ms: /** @type {number[]} */ ([]),
        rollback_depth: /** @type {number[]} */ ([]),
        /** play time (ms) the rollback samples come from */
        played_ms: 0,
      },
      error: /** @type {string | null} */ (null),
    };
    /** @type {PythonWorker | null} */
    this.py = null;
    /** @type {Promise<void> | null} */
    this.booted = null;
    /** @type {Keyboard | null} */
    this.keyboard = null;
    /** @type {Renderer | null} */
    this.renderer = null;
    this.recorder = new Recorder(this.scene.id, handlers.enqueue);
    /** @type {PeerMesh | null} */
    this.mesh = null;
    /** @type {Record<string, any>[]} signaling that came before the mesh */
    this.earlySignals = [];
    /** @type {MatchMessage | null} */
    this.match = null;
    this.started = false;
    this.partnerClosed = false;
    this.destroyed = false;
    this.finishedScene = false;
    /** @type {[number, ArrayBuffer][]} packets waiting to be posted to the worker */
    this.inbound = [];
    this.inboundScheduled = false;
    /** @type {{records: any[], telemetry: any, frame: number}[]} */
    this.undrawn = [];
    /** @type {any} */
    this.latest = null;
    this.rafPending = false;
    this.drawTimer = 0;
    /** @type {Map<number, number>} frame -> when the state after it was first drawn */
    this.drawnAt = new Map();
    this.drawnUpTo = 0;
    this.telemetry = new EpisodeTelemetry();
    this.episodeFrames = 0;
    /** the mesh's relay counts when the episode began */
    this.relayedAtStart = { relayed_out: 0, relayed_in: 0 };
    this.episodeOpen = false;
    this.playStartedAt = 0;
    /** @type {((result: {partial: boolean, summary: Record<string, any> | null}) => void) | null} */
    this.finishEpisode = null;
    /** @type {Set<number>} peers whose packets stopped */
    this.silent = new Set();
    this.reconnectTimer = 0;
    this.onVisibility = () => this.visibilityChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** @param {string} phase */
  setPhase(phase) {
    this.state.phase = phase;
    document.body.dataset.game = phase;
  }

  run() {
    const missing = missingFeatures() ?? (typeof RTCPeerConnection === "undefined" ? "WebRTC" : null);
    if (missing) {
      this.fail(
        "unsupported_browser",
        `This browser cannot run the game (it lacks ${missing}). Please open the study link ` +
          "in a recent version of Chrome, Edge, Firefox or Safari on a computer.",
      );
      return;
    }
    // Python boots while the participant waits for a partner.
    this.booted = this.boot();
    this.booted.catch((err) => this.fail("game_failed", `The game could not start: ${describe(err)}`));
    this.join();
  }

  join() {
    this.setPhase("waiting");
    this.lobby.showWaiting(this.state.waiting);
    this.handlers.enqueue({
      type: "lobby_join",
      scene_id: this.scene.id,
      attributes: {},
      server_rtt_ms: this.handlers.serverRtt?.() ?? null,
    });
  }

  /** The server re-sent this scene (the websocket reconnected): make sure it knows we wait. */
  resumed() {
    if (!this.started && !this.destroyed && this.state.ended === null) {
      this.handlers.enqueue({ type: "lobby_join", scene_id: this.scene.id, attributes: {}, server_rtt_ms: this.handlers.serverRtt?.() ?? null });
    }
  }

  async boot() {
    const py = new PythonWorker({ onEvent: (event) => this.workerEvent(event) });
    this.py = py;
    if (window.igym) window.igym.gameWorker = py;
    const atlases = loadAtlases(this.scene.env.assets ?? {});
    const ready = await py.ready;
    this.state.boot = { ready_ms: ready.ready_ms, python_version: ready.python_version };
    this.renderer = new Renderer(this.view.canvas, await atlases);
    this.keyboard = new Keyboard(this.scene.env.key_bindings ?? {}, (m) => py.post(m));
    py.post({ type: "focus", focused: document.visibilityState === "visible" });
  }

  // -- server messages ---------------------------------------------------------------------------

  /**
   * @param {Record<string, any>} message
   * @returns {boolean} whether this scene handled it
   */
  receive(message) {
    if (this.destroyed) return false;
    if (message.scene_id !== undefined && message.scene_id !== this.scene.id) return false;
    switch (message.type) {
      case "lobby":
        this.state.waiting = message.waiting ?? null;
        if (this.state.phase === "waiting") this.lobby.showWaiting(this.state.waiting);
        return true;
      case "match":
        this.matched(/** @type {MatchMessage} */ (message));
        return true;
      case "signal":
        if (message.match_id !== this.match?.match_id) return true;
        if (this.mesh) this.mesh.signal(/** @type {any} */ (message));
        else this.earlySignals.push(message); // the mesh is not made yet
        return true;
      case "relay":
        if (message.match_id === this.match?.match_id) this.mesh?.relayed(/** @type {any} */ (message));
        return true;
      case "match_start":
        if (message.match_id === this.match?.match_id) this.play();
        return true;
      case "requeued":
        this.requeued(message.match_id, message.reason);
        return true;
      case "match_ended":
        if (message.match_id === this.match?.match_id) this.matchEnded(message.reason, message.message);
        return true;
      case "lobby_timeout":
        this.timedOut(message.message, message.redirect_url ?? null);
        return true;
      case "parity":
        this.state.parity[String(message.episode)] = message.status;
        return true;
      default:
        return false;
    }
  }

  /** @param {MatchMessage} match */
  async matched(match) {
    if (this.started) return;
    if (this.match?.match_id === match.match_id) return; // re-sent after a reconnect
    this.mesh?.close();
    this.mesh = null;
    this.earlySignals = [];
    this.match = match;
    this.state.matches_tried += 1;
    this.state.match = { match_id: match.match_id, you: match.you, members: match.members.map((m) => m.participant_id) };
    this.setPhase("connecting");
    this.lobby.showConnecting();
    // Test hook: a page may hold its peer connection back (e.g. until the test has set up
    // emulated network conditions, which only apply to connections made after them).
    const gate = /** @type {any} */ (window).__igymPeerGate;
    if (gate) await gate;
    if (this.match !== match || this.destroyed) return;
    const mesh = new PeerMesh({
      match,
      sendSignal: (to, data) =>
        this.handlers.signal?.({ type: "signal", match_id: match.match_id, to, data }),
      sendRelay: (to, packets, controls) =>
        this.handlers.signal?.({ type: "relay", match_id: match.match_id, to, packets, controls }),
      onPacket: (peer, data) => this.packetIn(peer, data),
      onEnd: (peer, episode, packet) => {
        // a partner's agreed end of the episode still being played here (see NetPlay.farewell)
        if (episode === this.state.episode && this.episodeOpen) this.packetIn(peer, packet);
      },
      onLinkState: (peer, state) => {
        // The partner closed the connection (left the page): no need to wait for the engine's
        // timeout. An episode being played gets a moment to settle first: the partner may just
        // have finished the last episode (agreed by both) a little sooner.
        if (state !== "closed" || !this.started || this.mesh !== mesh) return;
        this.partnerClosed = true;
        const left = () => this.lost("partner_closed", PARTNER_LEFT);
        if (this.episodeOpen) setTimeout(left, SETTLE_AFTER_CLOSE_MS);
        else left();
      },
    });
    this.mesh = mesh;
    for (const early of this.earlySignals.splice(0)) if (early.match_id === match.match_id) mesh.signal(early);
    let ok = false;
    let rtt = null;
    try {
      await mesh.open(CONNECT_TIMEOUT_MS);
      rtt = await mesh.probe(PING_TIMEOUT_MS);
      ok = true;
    } catch (err) {
      const links = [...mesh.links.values()].map((l) => `${l.peer}: pc=${l.pc.connectionState} ice=${l.pc.iceConnectionState} sig=${l.pc.signalingState} game=${l.game?.readyState} ctl=${l.ctl?.readyState} ${JSON.stringify(l.stats)} making=${l.makingOffer}`);
      console.warn(`igym p2p: ${describe(err)} (${links.join("; ")})`);
      this.handlers.enqueue({ type: "event", name: "p2p_probe_failed", data: { message: describe(err).slice(0, 200), links: links.join("; ").slice(0, 300) } });
    }
    if (this.mesh !== mesh || this.destroyed) return;
    this.state.probe_rtt_ms = rtt;
    this.handlers.enqueue({
      type: "probe",
      match_id: match.match_id,
      ok,
      rtt_ms: rtt === null ? null : Math.round(rtt * 100) / 100,
    });
  }

  /** @param {string} matchId @param {string} reason */
  requeued(matchId, reason) {
    if (matchId !== this.match?.match_id || this.started) return;
    this.state.requeued.push(reason);
    this.mesh?.close();
    this.mesh = null;
    this.match = null;
    this.setPhase("waiting");
    this.lobby.showWaiting(this.state.waiting);
  }

  /** @param {string} message @param {string | null} redirectUrl */
  timedOut(message, redirectUrl) {
    if (this.started) return;
    this.state.ended = "waiting_timeout";
    this.mesh?.close();
    this.setPhase("ended");
    this.lobby.showFinal("timeout", "No partner found", message, {
      redirectUrl,
      onContinue: () => this.continueScene(),
    });
  }

  /**
   * The game cannot go on from this side (the partner's connection closed or went silent past
   * the timeout, or a check failed): keep what was recorded, explain, and let the participant
   * continue. Continuing first leaves the match, which ends it on the server for everyone.
   * @param {string} reason
   * @param {string} text
   */
  lost(reason, text) {
    if (this.destroyed || this.state.ended !== null || this.finishedScene) return;
    this.state.ended = reason;
    this.stopEpisode(true, { ended: reason });
    this.mesh?.close(reason);
    this.setPhase("ended");
    this.handlers.enqueue({ type: "event", name: reason, data: { episode: this.state.episode } });
    this.lobby.showFinal("partner_left", "The game has ended", text, {
      onContinue: () => {
        this.handlers.enqueue({ type: "lobby_leave", scene_id: this.scene.id, reason });
        this.continueScene();
      },
    });
  }

  /** @param {string} reason @param {string} message */
  matchEnded(reason, message) {
    if (this.finishedScene) return;
    this.state.ended = reason;
    this.stopEpisode(true, { ended: reason.slice(0, 100) });
    this.mesh?.close();
    this.setPhase("ended");
    this.lobby.showFinal("partner_left", "The game has ended", message, { onContinue: () => this.continueScene() });
  }

  // -- playing ---------------------------------------------------------------------------------

  async play() {
    if (this.started || !this.match || !this.mesh) return;
    this.started = true;
    const match = this.match;
    const mesh = this.mesh;
    mesh.relayEnabled = true; // the server relays packets from match_start on
    try {
      this.setPhase("loading");
      this.view.showLoading("Loading the game…", 0.5);
      await this.booted;
      const py = /** @type {PythonWorker} */ (this.py);
      await py.call({
        cmd: "net_load",
        scene: this.scene,
        match,
        packages_url: this.scene.env.packages_url,
        time_origin: performance.timeOrigin,
      });
      for (let episode = 0; episode < this.scene.episodes; episode += 1) {
        if (this.destroyed || this.state.ended !== null) return;
        const partial = await this.playEpisode(py, mesh, episode);
        if (partial) return;
      }
    } catch (err) {
      if (this.partnerClosed) this.lost("partner_closed", PARTNER_LEFT);
      else this.lost("p2p_failed", `The connection to your partner failed (${describe(err)}). Your data is saved; you can go on.`);
      return;
    }
    if (this.destroyed || this.state.ended !== null) return;
    this.setPhase("saving");
    this.view.showMessage("Saving…", "Well done! Your game is being saved.");
    this.continueScene();
  }

  /**
   * @param {PythonWorker} py
   * @param {PeerMesh} mesh
   * @param {number} episode
   * @returns {Promise<boolean>} whether it ended early
   */
  async playEpisode(py, mesh, episode) {
    this.state.episode = episode;
    this.latest = null;
    this.undrawn = [];
    this.drawnAt.clear();
    this.drawnUpTo = 0;
    this.telemetry = new EpisodeTelemetry();
    this.episodeFrames = 0;
    this.relayedAtStart = { ...mesh.stats };
    const first = /** @type {{render: any[], hud: Record<string, number>}} */ (await py.call({ cmd: "game_start", episode }));
    this.renderer?.draw(first.render);
    this.view.updateHud(first.hud, this.scene);
    this.setPhase("countdown");
    this.view.showMessage("Get ready", "Checking the connection to your partner…");
    const rtt = await mesh.healthCheck(PING_TIMEOUT_MS);
    this.handlers.enqueue({ type: "event", name: "p2p_health", data: { episode, ok: true, rtt_ms: Math.round(rtt * 100) / 100 } });
    this.view.showMessage("Get ready", "Waiting for your partner…");
    const countdownMs = Math.max(500, Math.round((this.scene.countdown_s ?? 0) * 1000));
    const startAt = await mesh.agreeStart(episode, countdownMs, READY_TIMEOUT_MS);
    this.recorder.begin(episode);
    this.episodeOpen = true;
    await this.countdown(episode, startAt);
    if (this.destroyed || this.state.ended !== null) return true;
    const finished = new Promise((resolve) => {
      this.finishEpisode = resolve;
    });
    this.setPhase("playing");
    this.view.hideOverlay();
    this.keyboard?.setEnabled(true);
    this.playStartedAt = performance.now();
    mesh.listen();
    await py.call({ cmd: "game_run" });
    const result = /** @type {{partial: boolean, summary: Record<string, any> | null}} */ (await finished);
    this.keyboard?.setEnabled(false);
    this.state.samples.played_ms += performance.now() - this.playStartedAt;
    if (this.destroyed || this.state.ended !== null) return true;
    this.closeEpisode(result.partial, flat(result.summary ?? {}));
    if (result.partial) {
      this.lost(this.partnerClosed ? "partner_closed" : "p2p_disconnected", PARTNER_LEFT);
      return true;
    }
    return false;
  }

  /** @param {number} episode @param {number} startAt when the countdown ends (performance.now clock) */
  async countdown(episode, startAt) {
    const total = this.scene.episodes;
    const previous = /** @type {any} */ (this.state.summaries.at(-1));
    const heading = previous && total > 1 ? `Round ${episode} done — score ${formatNumber(previous.score)}` : "Get ready";
    for (;;) {
      const left = startAt - performance.now();
      if (left <= 0 || this.destroyed) return;
      this.view.showCountdown(heading, `Round ${episode + 1} of ${total} starts in`, Math.ceil(left / 1000));
      await sleep(Math.min(left, left % 1000 || 1000));
    }
  }

  /**
   * @param {boolean} partial
   * @param {Record<string, string | number | boolean | null>} [extra]
   */
  closeEpisode(partial, extra = {}) {
    if (!this.episodeOpen) return;
    this.episodeOpen = false;
    const summary = {
      score: Number(this.latest?.hud?.score ?? 0),
      ...this.telemetry.summary(),
      ...percentiles("rollback_tick", this.state.samples.rollback_ms),
      ready_ms: typeof this.state.boot?.ready_ms === "number" ? Math.round(this.state.boot.ready_ms) : null,
      probe_rtt_ms: this.state.probe_rtt_ms,
      // messages that went through the server relay this episode (see p2p/mesh.js)
      relayed_out: (this.mesh?.stats.relayed_out ?? 0) - this.relayedAtStart.relayed_out,
      relayed_in: (this.mesh?.stats.relayed_in ?? 0) - this.relayedAtStart.relayed_in,
      ...extra,
    };
    this.recorder.end({ frames: this.episodeFrames, partial, summary });
    this.state.samples.step_ms.push(...this.telemetry.stepMs);
    this.state.samples.input_to_drawn_ms.push(...this.telemetry.inputToDrawn);
    this.state.summaries.push({ episode: this.state.episode, frames: this.episodeFrames, partial, ...summary });
  }

  /**
   * Stop the worker's clock and close the open episode (partner left, failure).
   * @param {boolean} partial
   * @param {Record<string, string | number | boolean | null>} [extra]
   */
  stopEpisode(partial, extra = {}) {
    this.keyboard?.setEnabled(false);
    if (this.episodeOpen) {
      this.py?.call({ cmd: "game_stop" }).catch(() => {});
      this.commit(null);
      this.closeEpisode(partial, extra);
    }
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    finish?.({ partial, summary: null });
  }

  continueScene() {
    if (this.finishedScene) return;
    this.finishedScene = true;
    this.mesh?.close();
    this.recorder.flush();
    this.handlers.onContinue(this.scene.id, {});
  }

  // -- the bridge ------------------------------------------------------------------------------

  /** @param {number} peer @param {ArrayBuffer} data */
  packetIn(peer, data) {
    this.inbound.push([peer, data]);
    if (this.inboundScheduled) return;
    this.inboundScheduled = true;
    queueMicrotask(() => {
      this.inboundScheduled = false;
      const packets = this.inbound;
      this.inbound = [];
      if (!this.py?.isReady) return;
      this.py.worker.postMessage({ type: NET_PACKETS, packets }, packets.map(([, d]) => d));
    });
  }

  /** @param {import("../worker/protocol.js").EventMessage} event */
  workerEvent(event) {
    if (this.destroyed) return;
    if (event.type === NET_FRAME) {
      this.mesh?.sendPackets(event.packets);
      if (event.done && event.farewell) {
        // every copy of the end report sent while lingering may have been lost: say it once
        // more on every path, the server relay included
        this.mesh?.broadcast({ t: "end", episode: event.episode, packet: event.farewell }, { relay: true });
      }
      this.frameArrived(event);
    } else if (event.type === PROGRESS) {
      if (this.state.phase === "loading" && this.started) this.view.showLoading("Loading the game…", event.fraction);
    } else if (event.type === GAME_ERROR) {
      this.gameError(`The game stopped because of an error: ${event.message}`);
    } else if (event.type === "crash") {
      this.gameError(`The game stopped unexpectedly (${event.message}).`);
    }
  }

  /** @param {any} frame a net_frame message */
  frameArrived(frame) {
    if (frame.episode !== this.state.episode) return;
    this.state.frames_received += frame.settled.length;
    const t = frame.telemetry;
    if (t.rollbacks > 0) {
      this.state.samples.rollback_ms.push(t.step_ms);
      this.state.samples.rollback_depth.push(t.rollback_depth);
    }
    for (const event of frame.events) this.netEvent(event);
    this.undrawn.push({ records: frame.settled, telemetry: t, frame: frame.frame });
    this.latest = frame;
    if (document.visibilityState === "hidden" || frame.done) {
      if (frame.done && document.visibilityState !== "hidden") this.paint();
      else this.commit(null);
    } else if (!this.rafPending) {
      this.rafPending = true;
      requestAnimationFrame(() => this.paint());
      this.drawTimer = window.setTimeout(() => this.commit(null), DRAW_TIMEOUT_MS);
    }
  }

  /** @param {Record<string, any>} event a session event from the worker */
  netEvent(event) {
    if (event.type === "interrupted") {
      this.silent.add(event.peer);
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = window.setTimeout(() => {
        if (this.silent.size > 0 && this.state.phase === "playing") this.lobby.showReconnecting();
      }, RECONNECTING_AFTER_MS);
    } else if (event.type === "resumed") {
      this.silent.delete(event.peer);
      if (this.silent.size === 0) {
        clearTimeout(this.reconnectTimer);
        if (this.view.overlay.dataset.kind === "reconnecting") this.view.hideOverlay();
      }
    }
    if (event.type !== "wait" && this.state.events.length < 200) {
      this.state.events.push({ ...event, episode: this.state.episode });
      this.handlers.enqueue({ type: "event", name: `p2p_${event.type}`, data: { ...event, episode: this.state.episode } });
    }
  }

  paint() {
    this.rafPending = false;
    clearTimeout(this.drawTimer);
    if (this.destroyed || !this.latest || this.undrawn.length === 0) return;
    this.renderer?.draw(this.latest.render);
    this.view.updateHud(this.latest.hud, this.scene);
    this.commit(performance.now());
  }

  /**
   * The frames received since the last draw are on screen now (or never will be: null).
   * @param {number | null} drawn
   */
  commit(drawn) {
    clearTimeout(this.drawTimer);
    const batch = this.undrawn;
    this.undrawn = [];
    if (drawn !== null && this.latest) {
      for (let f = this.drawnUpTo; f < this.latest.frame; f += 1) this.drawnAt.set(f, drawn);
      this.drawnUpTo = Math.max(this.drawnUpTo, this.latest.frame);
    }
    for (const { records, telemetry } of batch) {
      for (const record of records) {
        record.t.drawn = this.drawnAt.get(record.frame) ?? null;
        this.drawnAt.delete(record.frame);
      }
      this.episodeFrames += records.length;
      // the first input_delay frames have no local input sample: time them from their step
      const timed = records.map((r) => (r.t.tick === null ? { ...r, t: { ...r.t, tick: r.t.step } } : r));
      this.telemetry.add(timed, telemetry);
      this.recorder.add(records);
    }
    if (this.latest?.done && this.finishEpisode && this.undrawn.length === 0) {
      const finish = this.finishEpisode;
      this.finishEpisode = null;
      const summary = this.latest.summary;
      finish({ partial: !summary?.agreed, summary });
    }
  }

  visibilityChanged() {
    const visible = document.visibilityState === "visible";
    this.py?.post({ type: "focus", focused: visible });
    if (!visible && this.undrawn.length) this.commit(null);
  }

  /** @param {string} text */
  gameError(text) {
    if (this.state.phase === "error") return;
    this.stopEpisode(true, { error: text.slice(0, 200) });
    this.mesh?.close("error");
    this.fail("game_error", text);
  }

  /** @param {string} code @param {string} text */
  fail(code, text) {
    if (this.destroyed) return;
    this.setPhase("error");
    this.state.error = text;
    this.keyboard?.setEnabled(false);
    this.view.showError(text, "Reloading the page continues the study where you left it.");
    this.handlers.enqueue({ type: "event", name: "game_error", data: { code, message: text.slice(0, 500), episode: this.state.episode } });
    console.error(`igym game: ${text}`);
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.drawTimer);
    clearTimeout(this.reconnectTimer);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.lobby.destroy();
    this.keyboard?.destroy();
    this.recorder.destroy();
    this.mesh?.close("left");
    this.py?.terminate();
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    finish?.({ partial: true, summary: null });
    delete document.body.dataset.game;
  }
}

/**
 * Only the scalar values (an episode_end summary is flat).
 * @param {Record<string, any>} summary
 * @returns {Record<string, string | number | boolean | null>}
 */
function flat(summary) {
  /** @type {Record<string, string | number | boolean | null>} */
  const out = {};
  for (const [key, value] of Object.entries(summary)) {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) out[`p2p_${key}`] = value;
  }
  return out;
}

/** @param {unknown} n */
function formatNumber(n) {
  const x = Number(n);
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
