// The waiting room and the match of a multiplayer game scene, up to the game's start:
//
//   lobby_join (again after the websocket reconnected) -> "lobby" (the waiting count)
//   -> "match" (members, ICE servers, seeds) -> open a data channel to every partner
//   (p2p/mesh.js; signaling through the server, signals that came before the mesh are kept)
//   -> 5 pings -> "probe" {ok, rtt_ms} -> the server says "match_start" (the scene starts the
//   game: start()) or "requeued" (back to waiting, for the next match).
//
// A page reloaded in the middle of a game joins again and gets its match back with connection
// generations above 0 (`links`): it connects without a probe (the game is on) and the scene
// rebuilds its episode. During the game, "peer_link" replaces a connection (a repair, or the
// partner's page was reloaded: wait for it, `onPeerLink`).
//
// Once the game has started, a later "match" or "requeued" is ignored. The scene's state
// (`window.igym.game`) gets waiting, match, matches_tried, probe_rtt_ms and requeued from here.

import { PeerMesh } from "../p2p/mesh.js";
import { sendLobbyJoin, waitingCount } from "./lobby-view.js";

/** Opening the data channels (ICE, DTLS, SCTP) may take this long. */
const CONNECT_TIMEOUT_MS = 20_000;
export const PING_TIMEOUT_MS = 10_000;

/**
 * @typedef {import("../p2p/mesh.js").MatchMessage} MatchMessage
 * @typedef {import("./net-game-scene.js").NetHandlers} NetHandlers
 * @typedef {{
 *   waiting: number | null,
 *   match: {match_id: string, you: number, members: string[]} | null,
 *   matches_tried: number,
 *   probe_rtt_ms: number | null,
 *   requeued: string[],
 *   phase: string,
 * }} MatchState  the part of the scene's state this module writes (and the phase it reads)
 */

export class NetMatch {
  /**
   * @param {{
   *   sceneId: string,
   *   handlers: NetHandlers,
   *   state: MatchState,
   *   lobby: import("./lobby-view.js").LobbyView,
   *   setPhase: (phase: string) => void,
   *   onPacket: (peer: number, data: ArrayBuffer) => void,
   *   onEnd: (peer: number, episode: number, packet: ArrayBuffer) => void,
   *   onPeerLink: (peer: number, reason: string, holdS: number | null) => void,
   *   onRepaired: (peer: number, info: Record<string, unknown>) => void,
   *   onGaveUp: (peer: number, why: string) => void,
   * }} options
   *   onPacket, onEnd, onRepaired, onGaveUp: from the mesh (see PeerMesh); onPeerLink: the
   *   server replaced the connection to a partner (reason "rejoined": its page was reloaded)
   */
  constructor(options) {
    this.options = options;
    this.sceneId = options.sceneId;
    this.handlers = options.handlers;
    this.state = options.state;
    this.lobby = options.lobby;
    /** @type {MatchMessage | null} */
    this.match = null;
    /** @type {PeerMesh | null} */
    this.mesh = null;
    /** @type {Record<string, any>[]} signaling that came before the mesh */
    this.earlySignals = [];
    this.started = false;
    this.destroyed = false;
  }

  /** Wait for a partner. */
  join() {
    this.options.setPhase("waiting");
    this.lobby.showWaiting(this.state.waiting);
    this.sendJoin();
  }

  /** The server re-sent the scene (the websocket reconnected): make sure it knows we wait. */
  resumed() {
    if (!this.started) this.sendJoin();
  }

  sendJoin() {
    sendLobbyJoin(this.sceneId, this.handlers);
  }

  /**
   * @param {Record<string, any>} message a message for this scene
   * @returns {boolean} whether it was one of the waiting room's or the match's
   */
  receive(message) {
    switch (message.type) {
      case "lobby":
        waitingCount(this.state, this.lobby, message);
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
      case "peer_link":
        if (message.match_id === this.match?.match_id) this.peerLink(message);
        return true;
      case "requeued":
        this.requeued(message.match_id, message.reason);
        return true;
      default:
        return false;
    }
  }

  /**
   * The server started the game: from now on the server relays packets, and the match stays.
   * @returns {{match: MatchMessage, mesh: PeerMesh} | null} null if there is no match (or it started)
   */
  start() {
    if (this.started || !this.match || !this.mesh) return null;
    this.started = true;
    this.mesh.relayEnabled = true; // the server relays packets from match_start on
    return { match: this.match, mesh: this.mesh };
  }

  /**
   * The server replaced the connection to a partner.
   * @param {Record<string, any>} message {peer, gen, reason, hold_s}
   */
  peerLink(message) {
    const peer = this.mesh?.indexOf.get(message.peer);
    if (peer === undefined || !this.mesh) return;
    this.mesh.resetLink(peer, Number(message.gen), message.reason === "repair");
    this.options.onPeerLink(peer, String(message.reason), typeof message.hold_s === "number" ? message.hold_s : null);
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
    this.state.match = { match_id: match.match_id, you: match.you, members: match.members.map((m) => m.peer) };
    this.options.setPhase("connecting");
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
      onPacket: this.options.onPacket,
      onEnd: this.options.onEnd,
      requestLink: (to, gen) => this.handlers.signal?.({ type: "p2p_reconnect", match_id: match.match_id, to, gen }),
      onRepaired: this.options.onRepaired,
      onGaveUp: this.options.onGaveUp,
    });
    this.mesh = mesh;
    if (window.igym) window.igym.mesh = mesh; // for tests: the live connections
    for (const early of this.earlySignals.splice(0)) if (early.match_id === match.match_id) mesh.signal(early);
    if (Object.values(match.links ?? {}).some((gen) => gen > 0)) return; // a rejoin: no probe
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
    this.options.setPhase("waiting");
    this.lobby.showWaiting(this.state.waiting);
  }

  /** The scene is gone: close the connections; a probe under way reports nothing. */
  destroy() {
    this.destroyed = true;
    this.mesh?.close("left");
  }
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
