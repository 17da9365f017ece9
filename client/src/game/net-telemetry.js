// Latency telemetry of a multiplayer episode, sampled once a second while it is played and
// uploaded in acked chunks (the `telemetry` message, like frames; the server stores each sample
// once, in the long-format `telemetry` table). Per second:
//
//   p2p_rtt_ms       the data channel's round trip (RTCPeerConnection.getStats: the selected
//                    candidate pair's currentRoundTripTime; the worst partner)
//   candidate_type   that pair's local candidate type: host, srflx, prflx or relay (text)
//   engine_rtt_ms    the rollback engine's own ping (the worst partner)
//   ws_rtt_ms        the websocket's round trip to the server
//   rollbacks, rollback_depth   rollbacks in that second and the deepest one (frames)
//   stalls, stalled_ms          ticks that could not advance, and the time they stood for
//   relayed          game packets that went through the server relay in that second
//   paused           1 while the game stood paused waiting for a partner
//
// Memory stays bounded however long the game: ticks are folded into one second's counters, the
// samples wait in a ring (RING_SAMPLES; the oldest go first, counted in `dropped`), and a chunk
// leaves every FLUSH_MS. DOM-free: tested with node.

/** Samples kept while they wait to be sent (about 6 minutes of every metric). */
export const RING_SAMPLES = 4096;
export const FLUSH_MS = 5000;
/** The server takes at most this many samples in one message (Limits.telemetry_per_chunk). */
export const MAX_CHUNK = 600;

/** @typedef {[number, string, number | string | null]} Sample  [t (Unix s), metric, value] */

/** A fixed-size queue: pushing onto a full ring drops the oldest item. */
export class Ring {
  /** @param {number} capacity */
  constructor(capacity) {
    this.capacity = capacity;
    /** @type {any[]} */
    this.items = new Array(capacity);
    this.start = 0;
    this.size = 0;
    this.dropped = 0;
  }

  /** @param {any} item */
  push(item) {
    if (this.size === this.capacity) {
      this.start = (this.start + 1) % this.capacity;
      this.size -= 1;
      this.dropped += 1;
    }
    this.items[(this.start + this.size) % this.capacity] = item;
    this.size += 1;
  }

  /** @param {number} count @returns {any[]} up to count items, oldest first, removed */
  take(count) {
    const out = [];
    while (out.length < count && this.size > 0) {
      out.push(this.items[this.start]);
      this.items[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.size -= 1;
    }
    return out;
  }
}

export class NetTelemetry {
  /**
   * @param {{
   *   sceneId: string,
   *   enqueue: (message: Record<string, unknown>) => number,
   *   links: () => Promise<{rtt_ms: number | null, candidate_type: string | null}>,
   *   serverRtt: () => number | null,
   *   pingServer?: () => void,
   *   relayed: () => number,
   *   frameMs: number,
   *   now?: () => number,
   *   capacity?: number,
   * }} options
   *   links: the data channels' getStats (worst RTT, the selected pair's candidate type);
   *   relayed: game packets relayed so far (the mesh's count); now: Unix ms
   */
  constructor(options) {
    this.options = options;
    this.now = options.now ?? (() => Date.now());
    this.ring = new Ring(options.capacity ?? RING_SAMPLES);
    this.episode = -1;
    this.timer = 0;
    this.flushTimer = 0;
    this.reset();
  }

  reset() {
    this.second = { rollbacks: 0, depth: 0, stalls: 0, paused: false, engineRtt: /** @type {number | null} */ (null) };
    this.relayedAt = this.options.relayed();
  }

  /**
   * Start sampling an episode (the clock runs until stop()).
   * @param {number} episode
   */
  start(episode) {
    this.stop();
    this.episode = episode;
    this.reset();
    this.timer = setInterval(() => this.sample(), 1000);
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
  }

  /** The episode is over: the last second and everything waiting go out. */
  stop() {
    if (!this.timer) return;
    clearInterval(this.timer);
    clearInterval(this.flushTimer);
    this.timer = 0;
    this.flushTimer = 0;
    this.flush();
  }

  /**
   * One worker tick's telemetry (a net_frame's).
   * @param {{rollbacks: number, rollback_depth: number, stalled: boolean, paused?: boolean, rtt_ms?: Record<string, number>}} t
   */
  tick(t) {
    const s = this.second;
    if (t.rollbacks > 0) {
      s.rollbacks += t.rollbacks;
      s.depth = Math.max(s.depth, t.rollback_depth);
    }
    if (t.stalled) s.stalls += 1;
    if (t.paused) s.paused = true;
    const rtts = Object.values(t.rtt_ms ?? {});
    if (rtts.length) s.engineRtt = Math.max(...rtts);
  }

  /** The last second's samples into the ring (and a ping for the next websocket RTT). */
  async sample() {
    const t = Math.round(this.now()) / 1000;
    const s = this.second;
    const relayed = this.options.relayed();
    /** @type {[string, number | string | null][]} */
    const values = [
      ["rollbacks", s.rollbacks],
      ["rollback_depth", s.depth],
      ["stalls", s.stalls],
      ["stalled_ms", Math.round(s.stalls * this.options.frameMs)],
      ["relayed", relayed - this.relayedAt],
      ["paused", s.paused ? 1 : 0],
    ];
    if (s.engineRtt !== null) values.push(["engine_rtt_ms", round2(s.engineRtt)]);
    const ws = this.options.serverRtt();
    if (ws !== null) values.push(["ws_rtt_ms", round2(ws)]);
    this.reset();
    this.relayedAt = relayed;
    this.options.pingServer?.();
    try {
      const link = await this.options.links();
      if (link.rtt_ms !== null) values.push(["p2p_rtt_ms", round2(link.rtt_ms)]);
      if (link.candidate_type) values.push(["candidate_type", link.candidate_type]);
    } catch {
      // getStats can fail on a connection being replaced: this second has no P2P figures
    }
    for (const [metric, value] of values) this.ring.push(/** @type {Sample} */ ([t, metric, value]));
  }

  /** Send what waits, in chunks the server takes. */
  flush() {
    while (this.ring.size > 0) {
      const samples = this.ring.take(MAX_CHUNK);
      this.options.enqueue({ type: "telemetry", scene_id: this.options.sceneId, episode: this.episode, samples });
    }
  }

  destroy() {
    this.stop();
  }
}

/**
 * The data channels' figures for telemetry, from getStats: the worst current RTT among the
 * connections and the local candidate type of the first one's selected pair.
 * @param {Iterable<{pc: RTCPeerConnection}>} links
 * @returns {Promise<{rtt_ms: number | null, candidate_type: string | null}>}
 */
export async function linkStats(links) {
  let rtt = null;
  let type = null;
  for (const link of links) {
    const report = await link.pc.getStats();
    /** @type {any} */
    let pair = null;
    report.forEach((/** @type {any} */ s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) ?? pair;
    });
    if (!pair) report.forEach((/** @type {any} */ s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = pair ?? s;
    });
    if (!pair) continue;
    if (typeof pair.currentRoundTripTime === "number") rtt = Math.max(rtt ?? 0, pair.currentRoundTripTime * 1000);
    type ??= report.get(pair.localCandidateId)?.candidateType ?? null;
  }
  return { rtt_ms: rtt, candidate_type: type };
}

/** @param {number} x */
function round2(x) {
  return Math.round(x * 100) / 100;
}
