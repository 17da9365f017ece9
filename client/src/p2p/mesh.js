// The peer-to-peer side of one match: a PeerLink to every other member, the RTT probe the server
// asks for before it starts the game (median of 5 pings per link; the worst link counts), the
// data-channel health check before each episode, and the agreement on when an episode starts
// (every member says "ready"; the member with index 0 then says "go in N ms", and everyone
// starts its countdown so that it ends at the same moment, correcting for half the RTT).
//
// Control messages (JSON on the reliable channel, and two more copies on the game channel so
// that a lossy link does not hold them up): {t: "ping", n, at} / {t: "pong", n, at},
// {t: "ready", episode}, {t: "go", episode, in_ms}, {t: "end", episode, packet} (a member's
// agreed episode end, see NetPlay.farewell), {t: "bye", reason}. Duplicates are harmless: a pong
// settles its ping once, ready is a set, the first go counts, the engine ignores a repeated end.
//
// The server relay: on a lossy link SCTP can stall one direction of the association for
// seconds (its retransmission timer backs off), and no data channel of that association gets
// through. Once a game is on, a member that heard nothing from a partner for RELAY_AFTER_MS
// also sends its packets and control messages through the server (the "relay" websocket
// message), with a {t: "deaf"} control that says so; a member told "deaf" sends through the
// server too for RELAY_HOLD_MS, since its own packets are the ones not getting through. Only
// silence makes a member say "deaf", so two members cannot keep each other relaying. Copies
// that arrive both ways are harmless (the engine takes packets in any order, more than once).
// The counts are in `stats` and in each episode's summary.
//
// While the game is on, p2p/repair.js keeps the connections working (ICE restarts, a new peer
// connection of the next generation when those fail or the channel stays stuck); the server
// hands out generations (`peer_link`: resetLink) and every signal carries its link's, so a
// signal of an older connection is dropped.

import { fromBase64, toBase64 } from "../base64.js";
import { PeerLink } from "./peer.js";
import { LinkDoctor } from "./repair.js";

/** Nothing heard from a partner over the data channels for this long: relay through the server. */
export const RELAY_AFTER_MS = 250;
/** A partner that said it does not hear us, within this window, hears from us through the server. */
export const RELAY_HOLD_MS = 400;
/** The server takes at most this many packets in one relay message. */
const RELAY_MAX_PACKETS = 16;
/** How often the connections are looked at while the game is on (p2p/repair.js). */
const CHECK_EVERY_MS = 250;

/** @typedef {{match_id: string, members: {peer: string, agents: string[]}[], you: number,
 *             ice_servers: RTCIceServer[], max_p2p_rtt_ms: number | null, seeds: number[],
 *             links?: Record<string, number>}} MatchMessage  links: each connection's generation */

export const PINGS = 5;
/** A health-check ping not answered yet goes again this often (ms)... */
const PING_AGAIN_MS = 1000;
/** ...and through the server as well once it has waited this long (ms). */
const HEALTH_VIA_SERVER_MS = 3000;

export class PeerMesh {
  /**
   * @param {{
   *   match: MatchMessage,
   *   sendSignal: (to: string, data: Record<string, unknown>) => void,
   *   sendRelay?: (to: string, packets: string[], controls: Record<string, unknown>[]) => void,
   *   onPacket: (peer: number, data: ArrayBuffer) => void,
   *   onEnd?: (peer: number, episode: number, packet: ArrayBuffer) => void,
   *   onLinkState?: (peer: number, state: import("./peer.js").LinkState) => void,
   *   requestLink?: (to: string, gen: number) => void,
   *   onRepaired?: (peer: number, info: Record<string, unknown>) => void,
   *   onGaveUp?: (peer: number, why: string) => void,
   * }} options
   *   requestLink: ask the server for a new connection to `to` (replacing generation `gen`);
   *   onRepaired: a broken connection works again (how, repair_ms, rtt_ms of its health check)
   */
  constructor(options) {
    this.options = options;
    this.match = options.match;
    this.you = options.match.you;
    this.onPacket = options.onPacket;
    this.sendRelay = options.sendRelay ?? null;
    this.onEnd = options.onEnd ?? (() => {});
    this.onLinkState = options.onLinkState ?? (() => {});
    /** relaying is allowed once the game is on (the server refuses it before) */
    this.relayEnabled = false;
    /** @type {Map<number, number>} peer -> when it last said (through the server) it does not hear us */
    this.deafAt = new Map();
    /** silence is counted from here at the earliest (see listen()) */
    this.listeningSince = -Infinity;
    /** messages (packets and control messages) that went through the server; game packets
     * from the worker (packets_out) and how many of them were relayed (relayed_packets) */
    this.stats = { relayed_out: 0, relayed_in: 0, packets_out: 0, relayed_packets: 0, pings_via_server: 0 };
    /** @type {Map<number, number>} peer -> when something last came from it through the server */
    this.relayedAt = new Map();
    /** @type {Map<number, PeerLink>} */
    this.links = new Map();
    /** @type {Map<string, number>} participant id -> member index */
    this.indexOf = new Map(options.match.members.map((m, i) => [m.peer, i]));
    /** @type {Map<string, {resolve: (ms: number) => void}>} pings waiting for their pong */
    this.pings = new Map();
    this.nextPing = 1;
    /** @type {Map<number, number>} the last measured RTT per peer, ms */
    this.rtt = new Map();
    /** @type {Map<number, Set<number>>} episode -> members that said ready */
    this.ready = new Map();
    /** @type {Map<number, {in_ms: number, at: number}>} episode -> the leader's go */
    this.go = new Map();
    /** @type {(() => void)[]} */
    this.waiters = [];
    /** @type {string | null} */
    this.bye = null;
    this.closed = false;
    options.match.members.forEach((member, peer) => {
      if (peer !== this.you) this.links.set(peer, this.makeLink(peer, options.match.links?.[member.peer] ?? 0));
    });
    this.doctor = new LinkDoctor({
      links: this.links,
      relayHeardAt: (peer) => this.relayedAt.get(peer) ?? -Infinity,
      requestLink: (peer, gen) => options.requestLink?.(this.match.members[peer].peer, gen),
      ping: (peer, timeoutMs) => this.ping(peer, timeoutMs),
      onRepaired: (peer, info) => options.onRepaired?.(peer, info),
      onGaveUp: (peer, why) => options.onGaveUp?.(peer, why),
    });
    this.checkTimer = 0;
  }

  /**
   * @param {number} peer
   * @param {number} gen
   * @returns {PeerLink}
   */
  makeLink(peer, gen) {
    const member = this.match.members[peer];
    return new PeerLink({
      peer,
      gen,
      polite: this.you > peer,
      iceServers: this.match.ice_servers ?? [],
      sendSignal: (data) => this.options.sendSignal(member.peer, data),
      onPacket: (data) => this.onPacket(peer, data),
      onControl: (message) => this.control(peer, message),
      onState: (state) => {
        if (this.links.get(peer)?.gen !== gen) return; // an older connection, replaced
        this.onLinkState(peer, state);
        this.wake();
      },
    });
  }

  /**
   * Replace the connection to `peer` by a new one of generation `gen` (the server's
   * `peer_link`: a repair, or the partner's page was reloaded). Older generations change nothing.
   * A `repair` the partner asked for is this side's repair too (its doctor may not have seen
   * the connection break before the new one came), reported once the new one carries packets.
   * @param {number} peer
   * @param {number} gen
   * @param {boolean} [repair]
   */
  resetLink(peer, gen, repair = false) {
    const old = this.links.get(peer);
    if (!old || this.closed) return;
    if (repair && gen >= old.gen) this.doctor.broken(peer, "new_connection");
    if (gen <= old.gen) return;
    old.close();
    this.links.set(peer, this.makeLink(peer, gen));
    this.doctor.replaced(peer);
    this.wake();
  }

  /**
   * A relayed signaling message from another member.
   * @param {{sender: string, data: Record<string, any>}} message
   */
  signal(message) {
    const peer = this.indexOf.get(message.sender);
    if (peer === undefined) return;
    const gen = Number(message.data?.gen ?? 0);
    const link = this.links.get(peer);
    if (!link || gen < link.gen) return; // for a connection that was replaced
    if (gen > link.gen) this.resetLink(peer, gen); // its peer_link has not come yet
    this.links.get(peer)?.signal(message.data);
  }

  /** @returns {boolean} every link has both channels open */
  get isOpen() {
    return [...this.links.values()].every((link) => link.isOpen);
  }

  /** @param {number} timeoutMs @returns {Promise<void>} resolves when every link is open */
  open(timeoutMs) {
    return this.until(() => this.isOpen, timeoutMs, "the connection to your partner could not be opened");
  }

  /**
   * The median RTT of PINGS pings on every link; resolves with the worst link's median.
   * @param {number} timeoutMs
   * @returns {Promise<number>}
   */
  async probe(timeoutMs) {
    const medians = await Promise.all(
      [...this.links.keys()].map(async (peer) => {
        const samples = [];
        for (let i = 0; i < PINGS; i += 1) samples.push(await this.ping(peer, timeoutMs));
        samples.sort((a, b) => a - b);
        const median = samples[Math.floor(samples.length / 2)];
        this.rtt.set(peer, median);
        return median;
      }),
    );
    return Math.max(...medians);
  }

  /**
   * Health check before an episode: every link is open and answers a ping in time.
   * @param {number} timeoutMs
   * @returns {Promise<number>} the worst RTT
   */
  async healthCheck(timeoutMs) {
    await this.open(timeoutMs);
    const rtts = await Promise.all(
      [...this.links.keys()].map(async (peer) => {
        // a lossy link's SCTP may stall for longer than the check waits: the ping goes again
        // every second, and through the server too after a while (the game relays then as well)
        const ms = await this.ping(peer, timeoutMs, { again: PING_AGAIN_MS, viaServerAfter: HEALTH_VIA_SERVER_MS });
        this.rtt.set(peer, ms);
        return ms;
      }),
    );
    return Math.max(...rtts);
  }

  /**
   * One ping on the control channel (the first pong of it counts).
   * @param {number} peer
   * @param {number} timeoutMs
   * @param {{again?: number, viaServerAfter?: number}} [options] `again`: send it again every
   *   so many ms until answered; `viaServerAfter`: from then on through the server as well
   * @returns {Promise<number>} the round trip, ms
   */
  ping(peer, timeoutMs, options = {}) {
    const n = this.nextPing;
    this.nextPing += 1;
    const key = `${peer}:${n}`;
    return new Promise((resolve, reject) => {
      /** @type {ReturnType<typeof setInterval> | undefined} */
      let repeat;
      const stop = () => {
        clearTimeout(timer);
        clearInterval(repeat);
        this.pings.delete(key);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no answer from your partner within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(key, {
        resolve: (ms) => {
          stop();
          resolve(ms);
        },
      });
      if (!this.say(peer, { t: "ping", n, at: performance.now() }, { relay: false })) {
        stop();
        reject(new Error("the connection to your partner is closed"));
        return;
      }
      if (options.again) {
        const again = options.again;
        let waited = 0;
        repeat = setInterval(() => {
          waited += again;
          const viaServer = options.viaServerAfter !== undefined && waited >= options.viaServerAfter;
          if (viaServer) this.stats.pings_via_server += 1;
          this.say(peer, { t: "ping", n, at: performance.now() }, { relay: viaServer });
        }, options.again);
      }
    });
  }

  /**
   * Agree on when `episode` starts: say ready, wait for everyone, then the leader says go.
   * @param {number} episode
   * @param {number} countdownMs how long the countdown lasts (at the leader)
   * @param {number} timeoutMs
   * @returns {Promise<number>} when the countdown ends, on this page's performance.now() clock
   */
  async agreeStart(episode, countdownMs, timeoutMs) {
    this.readySet(episode).add(this.you);
    // through the server too: one lost or late "go" (a lossy channel backing off, a connection
    // being replaced) would keep a partner in the countdown while the others play
    this.broadcast({ t: "ready", episode }, { relay: true });
    const everyone = this.match.members.length;
    await this.until(() => this.readySet(episode).size >= everyone, timeoutMs, "your partner did not get ready in time");
    if (this.you === 0) {
      this.broadcast({ t: "go", episode, in_ms: countdownMs }, { relay: true });
      return performance.now() + countdownMs;
    }
    await this.until(() => this.go.has(episode), timeoutMs, "your partner did not start the round");
    const go = /** @type {{in_ms: number, at: number}} */ (this.go.get(episode));
    const halfRtt = (this.rtt.get(0) ?? 0) / 2;
    return go.at + Math.max(0, go.in_ms - halfRtt);
  }

  /** @param {number} episode @returns {Set<number>} */
  readySet(episode) {
    let set = this.ready.get(episode);
    if (!set) {
      set = new Set();
      this.ready.set(episode, set);
    }
    return set;
  }

  /**
   * @param {Record<string, unknown>} message sent fast (see PeerLink.sendControl), and through
   *   the server when the link is degraded; `relay` true: through the server in any case,
   *   false: never (pings, which check the data channels themselves)
   * @param {{relay?: boolean}} [options]
   */
  broadcast(message, options = {}) {
    for (const peer of this.links.keys()) this.say(peer, message, options);
  }

  /**
   * One control message to one partner (see broadcast).
   * @param {number} peer
   * @param {Record<string, unknown>} message
   * @param {{relay?: boolean}} [options]
   * @returns {boolean} whether it went out at all
   */
  say(peer, message, options = {}) {
    const sent = this.links.get(peer)?.sendControl(message, { fast: true }) ?? false;
    const relay = options.relay === undefined ? this.degraded(peer) : options.relay && this.canRelay;
    if (relay) return this.relay(peer, [], [message]) || sent;
    return sent;
  }

  /**
   * The game packets of one worker tick: over the data channels, and through the server to
   * partners whose link is degraded.
   * @param {[number, ArrayBuffer][]} packets
   */
  sendPackets(packets) {
    /** @type {Map<number, string[]>} */
    const relay = new Map();
    this.stats.packets_out += packets.length;
    for (const [peer, data] of packets) {
      this.links.get(peer)?.sendPacket(data);
      if (!this.degraded(peer)) continue;
      this.stats.relayed_packets += 1;
      const list = relay.get(peer) ?? [];
      list.push(toBase64(new Uint8Array(data)));
      relay.set(peer, list);
    }
    for (const [peer, list] of relay) {
      for (let i = 0; i < list.length; i += RELAY_MAX_PACKETS) this.relay(peer, list.slice(i, i + RELAY_MAX_PACKETS), []);
    }
  }

  /** @returns {boolean} the server relay may be used now */
  get canRelay() {
    return this.relayEnabled && !this.closed && this.sendRelay !== null;
  }

  /**
   * The game packets start flowing now (an episode begins after a quiet countdown): count a
   * partner's silence from here.
   */
  listen() {
    this.listeningSince = performance.now();
    this.doctor.newEpisode();
    if (!this.checkTimer && !this.closed) this.checkTimer = setInterval(() => this.doctor.check(), CHECK_EVERY_MS);
  }

  /**
   * Nothing arrived from `peer` over the data channels for RELAY_AFTER_MS.
   * @param {number} peer
   * @returns {boolean}
   */
  silent(peer) {
    const heardAt = Math.max(this.links.get(peer)?.heardAt ?? -Infinity, this.listeningSince);
    return performance.now() - heardAt > RELAY_AFTER_MS;
  }

  /**
   * Whether messages for `peer` should also go through the server: it is silent, or it said
   * it does not hear us.
   * @param {number} peer
   * @returns {boolean}
   */
  degraded(peer) {
    if (!this.canRelay) return false;
    return this.silent(peer) || performance.now() - (this.deafAt.get(peer) ?? -Infinity) < RELAY_HOLD_MS;
  }

  /**
   * @param {number} peer
   * @param {string[]} packets base64
   * @param {Record<string, unknown>[]} controls
   * @returns {boolean} whether it was handed to the server connection
   */
  relay(peer, packets, controls) {
    const member = this.match.members[peer];
    if (!this.canRelay || !member || this.sendRelay === null) return false;
    const deaf = this.silent(peer) ? [{ t: "deaf" }] : [];
    this.sendRelay(member.peer, packets, [...controls, ...deaf]);
    this.stats.relayed_out += packets.length + controls.length;
    return true;
  }

  /**
   * Packets and control messages a partner sent through the server.
   * @param {{sender: string, packets?: string[], controls?: Record<string, any>[]}} message
   */
  relayed(message) {
    const peer = this.indexOf.get(message.sender);
    if (peer === undefined || peer === this.you || this.closed) return;
    this.relayedAt.set(peer, performance.now());
    for (const text of message.packets ?? []) {
      let bytes;
      try {
        bytes = fromBase64(text);
      } catch {
        continue;
      }
      this.stats.relayed_in += 1;
      this.onPacket(peer, /** @type {ArrayBuffer} */ (bytes.buffer));
    }
    for (const control of message.controls ?? []) {
      if (!control || typeof control !== "object") continue;
      if (control.t === "deaf") {
        this.deafAt.set(peer, performance.now());
        continue;
      }
      this.stats.relayed_in += 1;
      this.control(peer, control, true);
    }
  }

  /**
   * @param {number} peer
   * @param {Record<string, any>} message
   * @param {boolean} [viaServer] it came through the server relay (a ping's pong goes back so too)
   */
  control(peer, message, viaServer = false) {
    if (message.t === "ping") {
      this.say(peer, { t: "pong", n: message.n, at: message.at }, { relay: viaServer });
    } else if (message.t === "pong") {
      const waiter = this.pings.get(`${peer}:${message.n}`);
      if (waiter) {
        this.pings.delete(`${peer}:${message.n}`);
        waiter.resolve(performance.now() - Number(message.at));
      }
    } else if (message.t === "ready" && Number.isInteger(message.episode)) {
      this.readySet(message.episode).add(peer);
    } else if (message.t === "go" && peer === 0 && Number.isInteger(message.episode)) {
      // the first copy to arrive counts (the others are duplicates or late retransmissions)
      if (!this.go.has(message.episode)) {
        this.go.set(message.episode, { in_ms: Number(message.in_ms) || 0, at: performance.now() });
      }
    } else if (message.t === "end" && Number.isInteger(message.episode) && typeof message.packet === "string") {
      try {
        this.onEnd(peer, message.episode, /** @type {ArrayBuffer} */ (fromBase64(message.packet).buffer));
      } catch {
        // not base64: ignore, like any malformed control message
      }
    } else if (message.t === "bye") {
      this.bye = String(message.reason ?? "left");
    }
    this.wake();
  }

  /**
   * Resolve when cond() holds (checked on every control message and link change).
   * @param {() => boolean} cond
   * @param {number} timeoutMs
   * @param {string} failure the error message on timeout
   * @returns {Promise<void>}
   */
  until(cond, timeoutMs, failure) {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(failure));
      }, timeoutMs);
      const check = () => {
        if (this.closed) {
          clearTimeout(timer);
          reject(new Error("the match was closed"));
          return true;
        }
        if (!cond()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.waiters.push(check);
    });
  }

  wake() {
    this.waiters = this.waiters.filter((check) => !check());
  }

  /** @param {string} [reason] tell the others (best effort) and close every link */
  close(reason) {
    if (this.closed) return;
    if (reason) this.broadcast({ t: "bye", reason });
    this.closed = true;
    clearInterval(this.checkTimer);
    this.wake();
    const links = [...this.links.values()];
    // give a "bye" a moment to leave before the channels close under it
    setTimeout(() => links.forEach((link) => link.close()), reason ? 200 : 0);
  }
}
