// The pause of a multiplayer game, as the participant sees it and the server hears of it. The
// worker's engine pauses the game for everyone when a partner's inputs stop arriving (and a
// rebuilt page starts paused until its partners echoed what it lost); this shows
// "Waiting for your partner (N s)" with the time left before the game ends (the scene's
// reconnect timeout, or longer when the server said the partner's page is reloading), tells the
// server (`pause` reports: paused, resumed, timeout; the server decides who went away), and
// adds up the pauses for the episode's summary.

/**
 * @typedef {{show: (kind: string, children: HTMLElement[]) => void, hideOverlay: () => void,
 *            overlay: HTMLElement}} Overlay
 */

export class NetPause {
  /**
   * @param {{
   *   view: Overlay,
   *   report: (state: "paused" | "resumed" | "timeout", fields: Record<string, unknown>) => void,
   *   aliasOf: (peer: number) => string,
   *   reconnectTimeoutS: number,
   *   now?: () => number,
   * }} options  report: a `pause` message for the server (the outbox adds match and episode)
   */
  constructor(options) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    /** @type {{since: number, frame: number, waiting: number[], deadline: number} | null} */
    this.current = null;
    /** @type {Map<number, number>} partners whose page reloads: wait for them until then */
    this.holds = new Map();
    /** this page rebuilds its episode after a reload (it waits for its partners' echo) */
    this.rejoining = false;
    this.pauses = 0;
    this.pausedMs = 0;
    this.timer = 0;
  }

  /** A new episode: its own counts. */
  reset() {
    this.end();
    this.pauses = 0;
    this.pausedMs = 0;
  }

  /**
   * The engine paused (a net_frame's "paused" event).
   * @param {{frame: number, waiting_for: number[]}} event
   */
  paused(event) {
    const now = this.now();
    const waiting = event.waiting_for ?? [];
    this.current = { since: now, frame: event.frame, waiting, deadline: this.deadline(now, waiting) };
    this.pauses += 1;
    this.options.report("paused", { frame: event.frame, waiting_for: waiting.map(this.options.aliasOf) });
    this.draw();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.draw(), 250);
  }

  /**
   * Play goes on ("unpaused").
   * @param {{frame: number, paused_ms: number}} event
   * @returns {number} how long it stood, ms
   */
  resumed(event) {
    const ms = Math.round(event.paused_ms ?? (this.current ? this.now() - this.current.since : 0));
    this.pausedMs += ms;
    this.options.report("resumed", { frame: event.frame, paused_ms: ms });
    this.end();
    return ms;
  }

  /**
   * The game stayed paused past the timeout (the engine's "disconnected"): the server decides
   * who went away and ends the match.
   * @param {number} frame
   */
  timedOut(frame) {
    if (this.current) this.pausedMs += Math.round(this.now() - this.current.since);
    this.options.report("timeout", { frame, waiting_for: (this.current?.waiting ?? []).map(this.options.aliasOf) });
    this.current = null;
    clearInterval(this.timer);
  }

  /**
   * The server says partner `peer`'s page is reloading: wait for it up to `seconds`.
   * @param {number} peer
   * @param {number} seconds
   */
  hold(peer, seconds) {
    const until = this.now() + seconds * 1000;
    this.holds.set(peer, until);
    if (this.current) {
      this.current.deadline = this.deadline(this.current.since, this.current.waiting);
      this.draw();
    }
  }

  /** @param {number} since @param {number[]} waiting */
  deadline(since, waiting) {
    let deadline = since + this.options.reconnectTimeoutS * 1000;
    for (const peer of waiting) deadline = Math.max(deadline, this.holds.get(peer) ?? -Infinity);
    return deadline;
  }

  /** @returns {{pauses: number, paused_ms: number}} for the episode's summary */
  summary() {
    const ongoing = this.current ? Math.round(this.now() - this.current.since) : 0;
    return { pauses: this.pauses, paused_ms: this.pausedMs + ongoing };
  }

  draw() {
    const c = this.current;
    if (!c) return;
    const left = Math.max(0, Math.ceil((c.deadline - this.now()) / 1000));
    const reloading = c.waiting.some((p) => (this.holds.get(p) ?? -Infinity) > this.now());
    const title = this.rejoining ? "Reconnecting to your partner…" : `Waiting for your partner (${left} s)`;
    const text = this.rejoining
      ? "The game goes on where it was as soon as your partner's game has caught up."
      : reloading
        ? "Your partner's page is reloading. The game goes on where it stopped as soon as they are back."
        : "The connection to your partner is interrupted. The game goes on where it stopped as soon as it is back.";
    const heading = line("overlay-title", title);
    const body = line("overlay-text", text);
    this.options.view.show("paused", [heading, body]);
    this.options.view.overlay.dataset.seconds = String(left);
  }

  end() {
    clearInterval(this.timer);
    if (this.current && this.options.view.overlay.dataset.kind === "paused") this.options.view.hideOverlay();
    this.current = null;
    this.rejoining = false;
  }

  destroy() {
    clearInterval(this.timer);
  }
}

/** @param {string} className @param {string} text @returns {HTMLElement} */
function line(className, text) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}
