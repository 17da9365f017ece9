// A multiplayer game scene on the participant page: waiting room, matching, the peer-to-peer
// connection and its checks, then the episodes, played with rollback in the worker.
//
//   lobby_join -> "lobby" (waiting count) -> "match" (members, ICE servers, seeds)
//   -> open a data channel to every partner (p2p/mesh.js), 5 pings -> "probe" {ok, rtt_ms}
//   -> "match_start" (or "requeued": back to waiting) -> per episode: health check, everyone
//   ready, synchronized countdown, play until the worker says the episode is settled and agreed
//   by every peer -> frames + episode_end (the canonical records) -> after the last: submit.
//
// When a partner's inputs stop arriving the game pauses for everyone (net-pause.js: the
// overlay, the server's pause reports); past the reconnect timeout the episode ends and the
// server says who went away (match_ended). The connections repair themselves (p2p/repair.js).
// When a member is excluded, the server says where the game ends for every member (match_ended
// to the partners, "excluded" to that member's page: `end_episode`, `end_frame`): every page
// plays on to that frame (NetPlay.end_at; the excluded one's inputs idle, under a focus lease,
// behind its exclusion page), closes the episode there as partial and then shows its message;
// a page already past it ends where it is, and its episode says so (`match_end_reached`).
// A page reloaded mid-episode rejoins the match and rebuilds the episode from its records
// (resume.js, NetPlay.resume) without a countdown; the partners wait for it. Latency telemetry
// goes up once a second (net-telemetry.js).
//
// The waiting room and the match up to "match_start" are net-match.js (the test hook
// `window.__igymPeerGate` is there); this module plays the episodes. This thread only bridges:
// packets from the data channels go to the worker (batched per task, ArrayBuffers transferred),
// packets from the worker go to the data channels; the worker's frames are drawn on the next
// animation frame and their settled records stamped and recorded (frame-drawer.js,
// episode-log.js). The server's "parity" verdicts are kept for tests.
//
// For tests, `window.igym.game` is this scene's state and `document.body.dataset.game` its phase:
// loading | waiting | connecting | countdown | playing | saving | ended | error.

import { NET_FRAME } from "../worker/net-loop.js";
import { PythonWorker } from "../worker/pyworker.js";
import { GAME_ERROR, PROGRESS } from "../worker/protocol.js";
import { loadAtlases } from "./atlas.js";
import { EpisodeLog } from "./episode-log.js";
import { FrameDrawer, SettledDrawTimes } from "./frame-drawer.js";
import { Keyboard } from "./keyboard.js";
import { LobbyView } from "./lobby-view.js";
import { PacketBridge } from "./net-bridge.js";
import { NetMatch, PING_TIMEOUT_MS } from "./net-match.js";
import { NetPause } from "./net-pause.js";
import { linkStats, NetTelemetry } from "./net-telemetry.js";
import { clearPhase, failure, setPhase, showFailure } from "./phase.js";
import { Recorder } from "./recorder.js";
import { Renderer } from "./renderer.js";
import { resumePlan } from "./resume.js";
import { percentiles } from "./stats.js";
import { missingFeatures, unsupportedText } from "./support.js";
import { GameView } from "./view.js";

/** Waiting for the partners to be ready for an episode (they may still be loading Python). */
const READY_TIMEOUT_MS = 120_000;
/** After the game gave up waiting for a partner, the server's verdict should come this soon. */
const VERDICT_WAIT_MS = 3_000;
const CONNECTION_LOST = "The connection to your partner was lost. Your data is saved; you can go on.";
/** How long past the time the game should need to reach the server's end frame it may take. */
const END_GRACE_MS = 3_000;

/**
 * @typedef {{reason: string, message: string, end_frame?: number | null, end_episode?: number | null,
 *   completion_code?: string | null}} MatchEnd  the server's match_ended (or excluded) message
 */

/**
 * @typedef {import("./game-scene.js").GameSceneMessage} GameSceneMessage
 * @typedef {import("./game-scene.js").GameHandlers & {
 *   signal?: (message: Record<string, unknown>) => boolean,
 *   serverRtt?: () => number | null,
 *   pingServer?: () => void,
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
    /** @param {Omit<MatchEnd, "reason">} m this participant was excluded: see NetGameScene.leave */
    leave: (m) => game.leave(m),
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
      /** the frame the episode's game has reached here (what the page's monitor reports) */
      frame: 0,
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
      /** whether the game stands paused, waiting for a partner */
      paused: false,
      /** the episode this page rebuilt after a reload: {episode, frames, rebuild_ms} */
      rejoined: /** @type {Record<string, number> | null} */ (null),
      /** pauses of the game and repairs of the connections (for tests and the summary) */
      pauses: /** @type {Record<string, unknown>[]} */ ([]),
      repairs: /** @type {Record<string, unknown>[]} */ ([]),
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
      /** the reference number shown with the error */
      error_ref: /** @type {string | null} */ (null),
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
    this.log = new EpisodeLog(this.recorder, this.state);
    this.drawer = new FrameDrawer({
      draw: (latest) => {
        this.renderer?.draw(latest.render);
        this.view.updateHud(latest.hud, this.scene);
      },
      committed: (batches, latest) => this.committed(batches, latest),
      focus: (visible) => this.py?.post({ type: "focus", focused: visible }),
      drawTimes: new SettledDrawTimes(),
      drawLastAtOnce: true,
    });
    this.matching = new NetMatch({
      sceneId: this.scene.id,
      handlers,
      state: this.state,
      lobby: this.lobby,
      setPhase: (phase) => this.setPhase(phase),
      onPacket: (peer, data) => this.bridge.toWorker(peer, data),
      onEnd: (peer, episode, packet) => {
        // a partner's agreed end of the episode still being played here (see NetPlay.farewell)
        if (episode === this.state.episode && this.log.open) this.bridge.toWorker(peer, packet);
      },
      onPeerLink: (peer, reason, holdS) => this.peerLink(peer, reason, holdS),
      onRepaired: (peer, info) => this.repaired(peer, info),
      onGaveUp: (peer, why) => this.event("p2p_repair_failed", { peer, message: why }),
    });
    this.pause = new NetPause({
      view: this.view,
      aliasOf: (peer) => this.matching.match?.members[peer]?.peer ?? `peer${peer}`,
      reconnectTimeoutS: Number(this.scene.multiplayer?.reconnect_timeout_s ?? 5),
      report: (state, fields) => {
        const match = this.matching.match;
        if (!match) return;
        this.handlers.enqueue({ type: "pause", match_id: match.match_id, episode: this.state.episode, state, ...fields });
        // for tests: when it happened, and what had been sent (and relayed) by then
        const { packets_out, relayed_packets } = this.mesh?.stats ?? {};
        const at = Math.round(performance.now());
        this.state.pauses.push({ state, episode: this.state.episode, at, packets_out, relayed_packets, ...fields });
      },
    });
    this.telemetry = new NetTelemetry({
      sceneId: this.scene.id,
      enqueue: handlers.enqueue,
      links: () => linkStats(this.mesh ? [...this.mesh.links.values()].filter((l) => l.isOpen) : []),
      serverRtt: () => handlers.serverRtt?.() ?? null,
      pingServer: handlers.pingServer,
      relayed: () => this.mesh?.stats.relayed_packets ?? 0,
      frameMs: 1000 / (Number(this.scene.fps) || 30),
    });
    // Where to go on after a reload: decided now, from what the server had stored when it sent
    // this scene and what the outbox still holds (see game-scene.js).
    const queued = (handlers.queued?.() ?? []).filter((m) => m.scene_id === this.scene.id);
    this.plan = resumePlan(this.scene, queued);
    /** whether the first episode to play was open when the page was reloaded: it is rebuilt */
    this.rejoin = isOpen(this.scene, queued, this.plan.first);
    this.destroyed = false;
    this.finishedScene = false;
    this.bridge = new PacketBridge(() => this.py, () => this.mesh);
    /** the mesh's relay counts when the episode began */
    this.relayedAtStart = { relayed_out: 0, relayed_in: 0 };
    this.playStartedAt = 0;
    /** @type {((result: {partial: boolean, summary: Record<string, any> | null}) => void) | null} */
    this.finishEpisode = null;
    /**
     * The server ended the match at a frame the game plays on to (see endAt).
     * @type {{end: MatchEnd, leave: boolean, frame: number, timer: number, closed: () => void} | null}
     */
    this.ending = null;
  }

  /** the connections to the partners (null until a match) */
  get mesh() {
    return this.matching.mesh;
  }

  /** @param {string} phase */
  setPhase(phase) {
    setPhase(this.state, phase);
  }

  run() {
    const missing = missingFeatures() ?? (typeof RTCPeerConnection === "undefined" ? "WebRTC" : null);
    if (missing) {
      this.fail("unsupported_browser", failure(unsupportedText(missing).replace(/\.$/, "")));
      return;
    }
    // Python boots while the participant waits for a partner.
    this.booted = this.boot();
    this.booted.catch((err) => this.fail("game_failed", failure("The game could not start", describe(err))));
    this.matching.join();
  }

  /** The server re-sent this scene (the websocket reconnected): make sure it knows we wait. */
  resumed() {
    if (!this.destroyed && this.state.ended === null) this.matching.resumed();
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
    if (this.matching.receive(message)) return true;
    const match = this.matching.match;
    switch (message.type) {
      case "match_start":
        if (message.match_id === match?.match_id) this.play();
        return true;
      case "match_ended":
        if (message.match_id === match?.match_id) this.matchEnded(/** @type {MatchEnd} */ (message));
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

  /**
   * The server replaced the connection to a partner; "rejoined": its page was reloaded, so the
   * game waits for it as long as the scene allows a reload.
   * @param {number} peer
   * @param {string} reason
   * @param {number | null} holdS
   */
  peerLink(peer, reason, holdS) {
    if (reason !== "rejoined" || holdS === null) return;
    this.py?.post({ type: "net_hold", peer, seconds: holdS });
    this.pause.hold(peer, holdS);
  }

  /**
   * A broken connection carries the game again (its health check ran on it).
   * @param {number} peer
   * @param {Record<string, unknown>} info
   */
  repaired(peer, info) {
    const entry = { peer, episode: this.state.episode, at: Math.round(performance.now()), ...info };
    if (this.state.repairs.length < 100) this.state.repairs.push(entry);
    this.event("p2p_repaired", entry);
  }

  /**
   * @param {string} name
   * @param {Record<string, unknown>} data
   */
  event(name, data) {
    this.handlers.enqueue({ type: "event", name, data });
  }

  /** @param {string} message @param {string | null} redirectUrl */
  timedOut(message, redirectUrl) {
    if (this.matching.started) return;
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
    const ending = this.ending;
    if (ending) {
      // the server had ended the match already: end where it is, with the server's reason
      this.ending = null;
      clearTimeout(ending.timer);
      this.endHere(ending.end);
      ending.closed();
      return;
    }
    this.state.ended = reason;
    this.stopEpisode(true, { ended: reason });
    this.pause.end();
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

  /**
   * The server ended the match. After an exclusion it says where the game ends for every
   * member: the game plays on to that frame, and the message shows once the episode closed
   * there; otherwise (or when this page is already past it) the game ends here and now.
   * @param {MatchEnd} end
   */
  async matchEnded(end) {
    if (this.finishedScene || this.ending) return;
    clearTimeout(this.verdictTimer);
    if (await this.endAt(end, false, () => this.showEnded(end))) return;
    this.endHere(end);
    this.showEnded(end);
  }

  /**
   * This participant was excluded (participant.js shows the exclusion page): in a match, its
   * game plays on behind that page to the frame where the match ends for every member, its
   * inputs idle (a focus lease, as if the tab were hidden: the partners never wait for it).
   * @param {Omit<MatchEnd, "reason">} excluded the server's "excluded" message
   * @returns {Promise<void> | null} resolved once the episode is closed and its records queued
   *   (null: there is no game to play on; the page stops at once)
   */
  leave(excluded) {
    if (this.destroyed || this.finishedScene || this.ending || excluded.end_frame == null || !this.log.open) return null;
    const end = { ...excluded, reason: "excluded" };
    this.keyboard?.setEnabled(false);
    return new Promise((resolve) => {
      this.endAt(end, true, resolve).then((playing) => {
        if (playing) return;
        this.endHere(end);
        resolve();
      });
    });
  }

  /**
   * Lower the episode's end to the server's end frame (NetPlay.end_at).
   * @param {MatchEnd} end
   * @param {boolean} leave this page is the excluded one
   * @param {() => void} closed called once the episode closed there (see finishEnding)
   * @returns {Promise<boolean>} whether the game plays on to it
   */
  async endAt(end, leave, closed) {
    const py = this.py;
    if (!py || end.end_frame == null || !this.log.open || end.end_episode !== this.state.episode) return false;
    const ending = { end, leave, frame: end.end_frame, timer: 0, closed };
    this.ending = ending;
    /** @type {{end_frame: number | null, settled: number} | null} */
    let reply = null;
    try {
      reply = /** @type {any} */ (await py.call({ cmd: "net_end_at", episode: end.end_episode, frame: end.end_frame, leave }));
    } catch {
      reply = null;
    }
    // the episode closed meanwhile (finishEnding), or the scene went away: nothing more to do
    if (this.ending !== ending || this.destroyed) return true;
    if (reply === null || reply.end_frame === null) {
      this.ending = null;
      return false;
    }
    ending.frame = reply.end_frame;
    // should the game not get there (a partner's page gone with its inputs), it ends where it is
    const frameMs = 1000 / (Number(this.scene.fps) || 30);
    const left = Math.max(0, reply.end_frame - reply.settled) * frameMs + END_GRACE_MS;
    ending.timer = window.setTimeout(() => {
      if (this.ending !== ending) return;
      this.ending = null;
      this.endHere(end);
      closed();
    }, left + (this.state.phase === "countdown" ? Math.round((this.scene.countdown_s ?? 0) * 1000) + 1000 : 0));
    return true;
  }

  /**
   * The episode closed at the server's end frame (the worker settled it): partial, with the
   * reason; then the message.
   * @param {Record<string, any> | null} summary
   * @param {Record<string, number>} extra
   */
  finishEnding(summary, extra) {
    const ending = /** @type {NonNullable<typeof this.ending>} */ (this.ending);
    this.ending = null;
    clearTimeout(ending.timer);
    const reason = ending.end.reason;
    this.state.ended = reason;
    this.closeEpisode(true, { ...extra, ...flat(summary ?? {}), match_end_frame: ending.frame, ended: reason.slice(0, 100) });
    this.pause.end();
    this.mesh?.close();
    this.setPhase("ended");
    ending.closed();
  }

  /**
   * End the game here and now (the server gave no end frame, or this page is already past it,
   * or the game did not get there in time).
   * @param {MatchEnd} end
   */
  endHere(end) {
    this.state.ended = end.reason;
    const asked = end.end_frame == null ? {} : { match_end_frame: end.end_frame };
    this.stopEpisode(true, { ...asked, ended: end.reason.slice(0, 100) });
    this.pause.end();
    this.mesh?.close();
    this.setPhase("ended");
  }

  /** @param {MatchEnd} end */
  showEnded(end) {
    this.lobby.showFinal("partner_left", "The game has ended", end.message, {
      completionCode: end.completion_code ?? null,
      onContinue: () => this.continueScene(),
    });
  }

  // -- playing ---------------------------------------------------------------------------------

  async play() {
    const started = this.matching.start();
    if (!started) return;
    const { match, mesh } = started;
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
      if (this.plan.problem) throw new Error(this.plan.problem);
      for (let episode = this.plan.first; episode < this.scene.episodes; episode += 1) {
        if (this.destroyed || this.state.ended !== null) return;
        const rebuild = episode === this.plan.first && this.rejoin ? this.plan.replay : null;
        const partial = await this.playEpisode(py, mesh, episode, rebuild);
        if (partial) return;
      }
    } catch (err) {
      this.lost("p2p_failed", `The connection to your partner failed (${describe(err)}). Your data is saved; you can go on.`);
      return;
    }
    if (this.destroyed || this.state.ended !== null) return;
    this.setPhase("saving");
    this.view.showMessage("Saving…", "Well done! Your game is being saved.");
    this.continueScene();
  }

  /**
   * @param {PythonWorker} py
   * @param {import("../p2p/mesh.js").PeerMesh} mesh
   * @param {number} episode
   * @param {import("./resume.js").ReplayFrame[] | null} rebuild the records of an episode this
   *   page was playing when it was reloaded: rebuilt and rejoined, no countdown
   * @returns {Promise<boolean>} whether it ended early
   */
  async playEpisode(py, mesh, episode, rebuild) {
    this.state.episode = episode;
    this.state.frame = 0;
    this.drawer.reset();
    this.pause.reset();
    this.relayedAtStart = { ...mesh.stats };
    const started = performance.now();
    const first = /** @type {{render: any[], hud: Record<string, number>, resumed_at?: number, done?: boolean, farewell?: string | null}} */ (
      await py.call({ cmd: "game_start", episode, replay: rebuild })
    );
    this.renderer?.draw(first.render);
    this.view.updateHud(first.hud, this.scene);
    const resumedAt = first.resumed_at ?? 0;
    if (rebuild !== null) {
      this.state.rejoined = { episode, frames: resumedAt, replay_ms: Math.round(performance.now() - started) };
      this.log.begin(episode, resumedAt);
      if (first.done) {
        // every frame was settled before the reload: the partners get this page's end report
        if (first.farewell) mesh.broadcast({ t: "end", episode, packet: first.farewell }, { relay: true });
        this.closeEpisode(false, { resumed_at: resumedAt });
        return false;
      }
      this.pause.rejoining = true;
      this.setPhase("playing");
      this.view.showMessage("Reconnecting…", "Your game goes on where it was.");
    } else {
      this.setPhase("countdown");
      this.view.showMessage("Get ready", "Checking the connection to your partner…");
      const rtt = await mesh.healthCheck(PING_TIMEOUT_MS);
      this.event("p2p_health", { episode, ok: true, rtt_ms: Math.round(rtt * 100) / 100, pings_via_server: mesh.stats.pings_via_server });
      this.view.showMessage("Get ready", "Waiting for your partner…");
      const countdownMs = Math.max(500, Math.round((this.scene.countdown_s ?? 0) * 1000));
      const startAt = await mesh.agreeStart(episode, countdownMs, READY_TIMEOUT_MS);
      this.log.begin(episode);
      await this.countdown(episode, startAt);
      if (this.destroyed || this.state.ended !== null) return true;
      this.setPhase("playing");
      this.view.hideOverlay();
    }
    const finished = new Promise((resolve) => {
      this.finishEpisode = resolve;
    });
    this.keyboard?.setEnabled(true);
    this.playStartedAt = performance.now();
    mesh.listen();
    this.telemetry.start(episode);
    await py.call({ cmd: "game_run" });
    const result = /** @type {{partial: boolean, summary: Record<string, any> | null}} */ (await finished);
    this.keyboard?.setEnabled(false);
    this.telemetry.stop();
    this.state.samples.played_ms += performance.now() - this.playStartedAt;
    const extra = resumedAt ? { resumed_at: resumedAt } : {};
    if (!this.destroyed && this.ending) {
      this.finishEnding(result.summary, extra);
      return true;
    }
    if (this.destroyed || this.state.ended !== null) return true;
    if (result.partial) {
      this.gaveUp(result.summary, extra);
      return true;
    }
    this.closeEpisode(false, { ...extra, ...flat(result.summary ?? {}) });
    return false;
  }

  /**
   * The game stayed paused past the reconnect timeout: the episode closes (partial), the server
   * is told and decides who went away (its match_ended says so); should its verdict not come
   * (this page is the one offline), the page says the connection was lost and lets the
   * participant go on.
   * @param {Record<string, any> | null} summary
   * @param {Record<string, number>} extra
   */
  gaveUp(summary, extra) {
    this.state.ended = "reconnect_timeout";
    this.pause.timedOut(this.drawer.latest?.frame ?? 0);
    this.closeEpisode(true, { ...extra, ...flat(summary ?? {}), ended: "reconnect_timeout" });
    this.mesh?.close();
    this.setPhase("ended");
    this.view.showMessage("The game has ended", "Your partner's connection or yours was lost. Saving your data…");
    this.verdictTimer = window.setTimeout(() => {
      if (this.finishedScene || this.destroyed) return;
      this.lobby.showFinal("partner_left", "The game has ended", CONNECTION_LOST, { onContinue: () => this.continueScene() });
    }, VERDICT_WAIT_MS);
  }

  /** @param {number} episode @param {number} startAt when the countdown ends (performance.now clock) */
  async countdown(episode, startAt) {
    const previous = this.state.summaries.at(-1);
    for (;;) {
      const left = startAt - performance.now();
      if (left <= 0 || this.destroyed) return;
      this.view.showRoundCountdown(episode, this.scene.episodes, previous, Math.ceil(left / 1000));
      await sleep(Math.min(left, left % 1000 || 1000));
    }
  }

  /**
   * @param {boolean} partial
   * @param {Record<string, string | number | boolean | null>} [extra]
   */
  closeEpisode(partial, extra = {}) {
    // the frame the server ended the match at, and whether this page's records end there
    if (typeof extra.match_end_frame === "number") extra.match_end_reached = this.log.frames === extra.match_end_frame;
    this.log.close(partial, Number(this.drawer.latest?.hud?.score ?? 0), {
      ...percentiles("rollback_tick", this.state.samples.rollback_ms),
      ready_ms: typeof this.state.boot?.ready_ms === "number" ? Math.round(this.state.boot.ready_ms) : null,
      probe_rtt_ms: this.state.probe_rtt_ms,
      // messages that went through the server relay this episode (see p2p/mesh.js)
      relayed_out: (this.mesh?.stats.relayed_out ?? 0) - this.relayedAtStart.relayed_out,
      relayed_in: (this.mesh?.stats.relayed_in ?? 0) - this.relayedAtStart.relayed_in,
      packets_out: (this.mesh?.stats.packets_out ?? 0) - this.relayedAtStart.packets_out,
      relayed_packets: (this.mesh?.stats.relayed_packets ?? 0) - this.relayedAtStart.relayed_packets,
      ...this.pause.summary(),
      p2p_repairs: this.mesh?.doctor.attempts ?? 0,
      telemetry_dropped: this.telemetry.ring.dropped,
      ...extra,
    });
  }

  /**
   * Stop the worker's clock and close the open episode (partner left, failure).
   * @param {boolean} partial
   * @param {Record<string, string | number | boolean | null>} [extra]
   */
  stopEpisode(partial, extra = {}) {
    this.keyboard?.setEnabled(false);
    if (this.log.open) {
      this.py?.call({ cmd: "game_stop" }).catch(() => {});
      this.drawer.commit(null);
      this.closeEpisode(partial, extra);
    }
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    finish?.({ partial, summary: null });
  }

  continueScene() {
    if (this.finishedScene) return;
    this.finishedScene = true;
    clearTimeout(this.verdictTimer);
    this.mesh?.close();
    this.recorder.flush();
    this.handlers.onContinue(this.scene.id, {});
  }

  // -- the worker ------------------------------------------------------------------------------

  /** @param {import("../worker/protocol.js").EventMessage} event */
  workerEvent(event) {
    if (this.destroyed) return;
    if (event.type === NET_FRAME) {
      this.bridge.fromWorker(/** @type {any} */ (event));
      this.frameArrived(event);
    } else if (event.type === PROGRESS) {
      if (this.state.phase === "loading" && this.matching.started) this.view.showLoading("Loading the game…", event.fraction);
    } else if (event.type === GAME_ERROR) {
      this.gameError(failure("The game stopped because of an error", event.message));
    } else if (event.type === "crash") {
      this.gameError(failure("The game stopped unexpectedly", event.message));
    }
  }

  /** @param {any} frame a net_frame message */
  frameArrived(frame) {
    if (frame.episode !== this.state.episode) return;
    this.state.frame = frame.frame;
    this.state.frames_received += frame.settled.length;
    const t = frame.telemetry;
    if (t.rollbacks > 0) {
      this.state.samples.rollback_ms.push(t.step_ms);
      this.state.samples.rollback_depth.push(t.rollback_depth);
    }
    this.telemetry.tick(t);
    for (const event of frame.events) this.netEvent(event);
    this.drawer.receive(frame, frame.settled);
  }

  /**
   * Settled records are stamped (drawn, or never will be): record them. The episode is over
   * when the worker says it is settled (agreed by every peer: not partial).
   * @param {import("./frame-drawer.js").Batch[]} batches
   * @param {any} latest the newest net_frame
   */
  committed(batches, latest) {
    this.log.add(batches);
    if (latest?.done && this.finishEpisode) {
      const finish = this.finishEpisode;
      this.finishEpisode = null;
      const summary = latest.summary;
      finish({ partial: !summary?.agreed, summary });
    }
  }

  /** @param {Record<string, any>} event a session event from the worker */
  netEvent(event) {
    if (event.type === "paused") {
      this.state.paused = true;
      this.pause.paused(/** @type {any} */ (event));
    } else if (event.type === "unpaused") {
      this.state.paused = false;
      const rejoining = this.pause.rejoining;
      this.pause.resumed(/** @type {any} */ (event));
      if (rejoining && this.state.rejoined) {
        this.state.rejoined.rebuild_ms = Math.round(performance.now() - this.playStartedAt);
        this.event("p2p_rejoined", { ...this.state.rejoined });
      }
    }
    // silences shorter than a pause are the engine's business; pauses and the rest are logged
    if (["wait", "interrupted", "resumed"].includes(event.type) || this.state.events.length >= 200) return;
    this.state.events.push({ ...event, episode: this.state.episode });
    this.event(`p2p_${event.type}`, { ...event, episode: this.state.episode });
  }

  /** @param {import("./phase.js").Failure} what */
  gameError(what) {
    if (this.state.phase === "error") return;
    this.stopEpisode(true, { error: what.text.slice(0, 200), error_ref: what.ref });
    this.mesh?.close("error");
    this.fail("game_error", what);
  }

  /** @param {string} code @param {import("./phase.js").Failure} what */
  fail(code, what) {
    if (this.destroyed) return;
    this.keyboard?.setEnabled(false);
    showFailure(this.state, this.view, this.handlers.enqueue, code, what);
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.verdictTimer);
    if (this.ending) clearTimeout(this.ending.timer);
    this.pause.destroy();
    this.telemetry.destroy();
    this.drawer.destroy();
    this.lobby.destroy();
    this.keyboard?.destroy();
    this.recorder.destroy();
    this.matching.destroy();
    this.py?.terminate();
    const finish = this.finishEpisode;
    this.finishEpisode = null;
    finish?.({ partial: true, summary: null });
    clearPhase();
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

/**
 * Whether `episode` was being played when the page was reloaded (the server has it open, or the
 * outbox still holds its episode_start): it is rebuilt, not started again.
 * @param {{progress?: {episode: number, status: string}[]}} scene
 * @param {Record<string, any>[]} queued
 * @param {number} episode
 */
function isOpen(scene, queued, episode) {
  const known = (scene.progress ?? []).find((p) => p.episode === episode);
  if (known) return known.status === "playing" || known.status === "interrupted";
  return queued.some((m) => m.type === "episode_start" && m.episode === episode);
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
