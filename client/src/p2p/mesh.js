// The peer-to-peer side of one match: a PeerLink to every other member, the RTT probe the server
// asks for before it starts the game (median of 5 pings per link; the worst link counts), the
// data-channel health check before each episode, and the agreement on when an episode starts
// (every member says "ready"; the member with index 0 then says "go in N ms", and everyone
// starts its countdown so that it ends at the same moment, correcting for half the RTT).
//
// Control messages (JSON on the reliable channel, and two more copies on the game channel so
// that a lossy link does not hold them up): {t: "ping", n, at} / {t: "pong", n, at},
// {t: "ready", episode}, {t: "go", episode, in_ms}, {t: "bye", reason}. Duplicates are harmless:
// a pong settles its ping once, ready is a set, the first go counts.

import { PeerLink } from "./peer.js";

/** @typedef {{match_id: string, members: {participant_id: string, agents: string[]}[], you: number,
 *             ice_servers: RTCIceServer[], max_p2p_rtt_ms: number | null, seeds: number[]}} MatchMessage */

export const PINGS = 5;

export class PeerMesh {
  /**
   * @param {{
   *   match: MatchMessage,
   *   sendSignal: (to: string, data: Record<string, unknown>) => void,
   *   onPacket: (peer: number, data: ArrayBuffer) => void,
   *   onLinkState?: (peer: number, state: import("./peer.js").LinkState) => void,
   * }} options
   */
  constructor(options) {
    this.match = options.match;
    this.you = options.match.you;
    this.onLinkState = options.onLinkState ?? (() => {});
    /** @type {Map<number, PeerLink>} */
    this.links = new Map();
    /** @type {Map<string, number>} participant id -> member index */
    this.indexOf = new Map(options.match.members.map((m, i) => [m.participant_id, i]));
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
      if (peer === this.you) return;
      const link = new PeerLink({
        peer,
        polite: this.you > peer,
        iceServers: options.match.ice_servers ?? [],
        sendSignal: (data) => options.sendSignal(member.participant_id, data),
        onPacket: (data) => options.onPacket(peer, data),
        onControl: (message) => this.control(peer, message),
        onState: (state) => {
          this.onLinkState(peer, state);
          this.wake();
        },
      });
      this.links.set(peer, link);
    });
  }

  /**
   * A relayed signaling message from another member.
   * @param {{sender: string, data: Record<string, any>}} message
   */
  signal(message) {
    const peer = this.indexOf.get(message.sender);
    if (peer === undefined) return;
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
        const ms = await this.ping(peer, timeoutMs);
        this.rtt.set(peer, ms);
        return ms;
      }),
    );
    return Math.max(...rtts);
  }

  /**
   * One ping on the control channel.
   * @param {number} peer
   * @param {number} timeoutMs
   * @returns {Promise<number>} the round trip, ms
   */
  ping(peer, timeoutMs) {
    const n = this.nextPing;
    this.nextPing += 1;
    const key = `${peer}:${n}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(key);
        reject(new Error(`no answer from your partner within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(key, {
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
      });
      if (!this.links.get(peer)?.sendControl({ t: "ping", n, at: performance.now() }, { fast: true })) {
        clearTimeout(timer);
        this.pings.delete(key);
        reject(new Error("the connection to your partner is closed"));
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
    this.broadcast({ t: "ready", episode });
    const everyone = this.match.members.length;
    await this.until(() => this.readySet(episode).size >= everyone, timeoutMs, "your partner did not get ready in time");
    if (this.you === 0) {
      this.broadcast({ t: "go", episode, in_ms: countdownMs });
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

  /** @param {Record<string, unknown>} message sent fast (see PeerLink.sendControl) */
  broadcast(message) {
    for (const link of this.links.values()) link.sendControl(message, { fast: true });
  }

  /** @param {number} peer @param {ArrayBuffer} data */
  sendPacket(peer, data) {
    this.links.get(peer)?.sendPacket(data);
  }

  /**
   * @param {number} peer
   * @param {Record<string, any>} message
   */
  control(peer, message) {
    const link = this.links.get(peer);
    if (message.t === "ping") {
      link?.sendControl({ t: "pong", n: message.n, at: message.at }, { fast: true });
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
    this.wake();
    const links = [...this.links.values()];
    // give a "bye" a moment to leave before the channels close under it
    setTimeout(() => links.forEach((link) => link.close()), reason ? 200 : 0);
  }
}
