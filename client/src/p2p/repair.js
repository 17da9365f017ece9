// Keeps a match's peer connections working while the game is on (p2p/mesh.js runs it; the relay
// through the server carries the game meanwhile):
//
//   * a connection that goes "disconnected" for RESTART_AFTER_MS, or "failed", or whose data
//     channels stay silent for SILENT_RESTART_MS while the partner is heard through the
//     server, gets an ICE restart (at most MAX_RESTARTS, each given RESTART_WAIT_MS to work):
//     when its path dies, Chromium keeps the data channels "open" and the connection
//     "connected" for more than 5 s (measured), so silence is what tells first;
//   * when restarts do not help, or the connection closed (the partner's page closed it, or a
//     test hook did), or its data channels stay silent while the partner is heard through the
//     server (an SCTP association that backed off during an outage does not recover by itself
//     for seconds), the member asks the server for a new peer connection (the next generation;
//     at most MAX_NEW_LINKS per partner and episode);
//   * once a repaired connection is open again, its health check runs again (PINGS pings on
//     the repaired channel) and the repair is reported: how (`ice_restart`: the same peer
//     connection after restartIce; `new_connection`: the next generation; `recovered`: it came
//     back before anything was done), how many ICE restarts it took, how long, and the RTT.
//
// DOM-free apart from the links it is given (tested with node, see client/test/mesh.test.mjs).

/** A connection "disconnected" this long gets an ICE restart (the reference system's grace). */
export const RESTART_AFTER_MS = 500;
/** Data channels silent this long while the relay carries the game: ICE counts as down. */
export const SILENT_RESTART_MS = 1000;
/** An ICE restart gets this long to reconnect before the next one (or a new connection). */
export const RESTART_WAIT_MS = 2500;
export const MAX_RESTARTS = 3;
/** Partner heard through the server, but not on the data channels, for this long after an
 * outage (all paths silent for OUTAGE_MS): the association is stuck; replace the connection. */
export const STUCK_AFTER_OUTAGE_MS = 150;
/** The same without an outage (a lossy link's SCTP stalls for a while and recovers). */
export const STUCK_MS = 5000;
export const OUTAGE_MS = 1000;
/** New peer connections per partner and episode. */
export const MAX_NEW_LINKS = 4;
const HEALTH_PINGS = 3;

/**
 * @typedef {{
 *   peer: number, gen: number, isOpen: boolean, heardAt: number, openedAt: number,
 *   state: string, pc: {connectionState: string}, restartIce: () => void,
 * }} Link
 * @typedef {{
 *   links: Map<number, Link>,
 *   relayHeardAt: (peer: number) => number,
 *   requestLink: (peer: number, gen: number) => void,
 *   ping: (peer: number, timeoutMs: number) => Promise<number>,
 *   onRepaired: (peer: number, info: {how: string, repair_ms: number, rtt_ms: number | null, gen: number}) => void,
 *   onGaveUp: (peer: number, why: string) => void,
 *   now?: () => number,
 * }} DoctorOptions
 */

export class LinkDoctor {
  /** @param {DoctorOptions} options */
  constructor(options) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    /** @type {Map<number, {since: number | null, restarts: number, iceRestarts: number, lastRestart: number, brokenAt: number | null, how: string | null, asked: number, newLinks: number, outageAt: number | null}>} */
    this.cases = new Map();
    /** ICE restarts and new connections asked for, in all */
    this.attempts = 0;
  }

  /** @param {number} peer */
  case(peer) {
    let c = this.cases.get(peer);
    if (!c) {
      c = { since: null, restarts: 0, iceRestarts: 0, lastRestart: -Infinity, brokenAt: null, how: null, asked: -1, newLinks: 0, outageAt: null };
      this.cases.set(peer, c);
    }
    return c;
  }

  /** A new episode: every partner gets its new connections again. */
  newEpisode() {
    for (const c of this.cases.values()) c.newLinks = 0;
  }

  /** Look at every connection once (the mesh calls this a few times a second). */
  check() {
    const now = this.now();
    for (const link of this.options.links.values()) this.look(link, now);
  }

  /**
   * @param {Link} link
   * @param {number} now
   */
  look(link, now) {
    const c = this.case(link.peer);
    const relayAt = this.options.relayHeardAt(link.peer);
    const heardAny = Math.max(link.heardAt, relayAt);
    if (now - heardAny >= OUTAGE_MS) c.outageAt = now; // nothing at all: an outage
    const state = link.pc.connectionState;
    const relayAlive = now - relayAt < 500;
    const silentMs = now - Math.max(link.heardAt, link.openedAt);
    const afterOutage = c.outageAt !== null && now - c.outageAt < 10_000;
    // (silence counts once the channels carried packets: a new connection's partner end may
    // still be opening, and a restart then would only hold it up)
    const wentSilent = link.isOpen && link.heardAt >= link.openedAt && relayAlive && silentMs >= SILENT_RESTART_MS;
    const iceDown = state === "disconnected" || state === "failed" || wentSilent;
    // (a peer connection closed on this side fires no event: its state is what tells)
    const broken = link.state === "closed" || state === "closed" || (state === "failed" && c.restarts >= MAX_RESTARTS);
    if (link.isOpen && !broken) {
      if (relayAlive && silentMs >= (afterOutage ? STUCK_AFTER_OUTAGE_MS : STUCK_MS)) {
        this.mark(c, now, "new_connection");
        this.replace(link, c);
        return;
      }
      if (!iceDown) {
        if (c.brokenAt !== null && now - link.heardAt < 500) this.repaired(link, c, now);
        c.since = null;
        return;
      }
    }
    if (broken) {
      this.mark(c, now, "new_connection");
      this.replace(link, c);
      return;
    }
    if (!iceDown) return; // still connecting
    if (c.since === null) c.since = now;
    const waited = now - c.lastRestart >= RESTART_WAIT_MS;
    if ((state === "failed" || now - c.since >= RESTART_AFTER_MS) && waited) {
      this.mark(c, c.since, "ice_restart"); // broken since it went down (a blip is no repair)
      if (c.restarts < MAX_RESTARTS) {
        c.restarts += 1;
        c.iceRestarts += 1;
        c.lastRestart = now;
        this.attempts += 1;
        link.restartIce();
      } else {
        c.how = "new_connection";
        this.replace(link, c);
      }
    }
  }

  /**
   * @param {{brokenAt: number | null, how: string | null}} c
   * @param {number} now
   * @param {string} how
   */
  mark(c, now, how) {
    if (c.brokenAt === null) c.brokenAt = now;
    if (c.how !== "new_connection") c.how = how;
  }

  /**
   * Ask the server for the next generation of this connection (once per generation).
   * @param {Link} link
   * @param {{asked: number, newLinks: number}} c
   */
  replace(link, c) {
    if (c.asked === link.gen) return;
    if (c.newLinks >= MAX_NEW_LINKS) {
      if (c.asked !== -2) this.options.onGaveUp(link.peer, `${MAX_NEW_LINKS} new connections did not hold`);
      c.asked = -2;
      return;
    }
    c.asked = link.gen;
    c.newLinks += 1;
    this.attempts += 1;
    this.options.requestLink(link.peer, link.gen);
  }

  /**
   * The connection to `peer` is known to be broken (the partner asked for a new one).
   * @param {number} peer
   * @param {string} how
   */
  broken(peer, how) {
    this.mark(this.case(peer), this.now(), how);
  }

  /**
   * The mesh made a new connection of a new generation: it starts with a clean slate.
   * @param {number} peer
   */
  replaced(peer) {
    const c = this.case(peer);
    c.since = null;
    c.restarts = 0;
    c.lastRestart = -Infinity;
  }

  /**
   * A broken connection carries packets again: check it and report the repair.
   * @param {Link} link
   * @param {{brokenAt: number | null, how: string | null, restarts: number, iceRestarts: number, outageAt: number | null}} c
   * @param {number} now
   */
  repaired(link, c, now) {
    const how = c.how === "new_connection" ? c.how : c.iceRestarts > 0 ? "ice_restart" : "recovered";
    const info = { how, ice_restarts: c.iceRestarts, repair_ms: Math.round(now - (c.brokenAt ?? now)), rtt_ms: /** @type {number | null} */ (null), gen: link.gen };
    c.brokenAt = null;
    c.how = null;
    c.restarts = 0;
    c.iceRestarts = 0;
    c.outageAt = null;
    healthCheck(this.options.ping, link.peer).then(
      (rtt) => this.options.onRepaired(link.peer, { ...info, rtt_ms: rtt }),
      () => this.options.onRepaired(link.peer, info),
    );
  }
}

/**
 * The median of HEALTH_PINGS pings on the (repaired) data channel.
 * @param {(peer: number, timeoutMs: number) => Promise<number>} ping
 * @param {number} peer
 * @returns {Promise<number>}
 */
async function healthCheck(ping, peer) {
  const samples = [];
  for (let i = 0; i < HEALTH_PINGS; i += 1) samples.push(await ping(peer, 3000));
  samples.sort((a, b) => a - b);
  return Math.round(samples[Math.floor(samples.length / 2)] * 100) / 100;
}
