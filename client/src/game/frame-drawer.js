// The worker's frames on their way to the screen, and the moment each frame record is stamped
// `t.drawn`. Used by both game scenes (game-scene.js, net-game-scene.js).
//
// The worker posts one message per tick ("frame" from worker/game-loop.js, "net_frame" from
// worker/net-loop.js) with frame records, the render of the newest state, the HUD and the tick's
// telemetry. The drawer keeps the newest message and draws it on the next animation frame (when
// several ticks come between two animation frames, only the newest is drawn). A draw "commits"
// the records received since the last one: each gets `t.drawn` (ms on the page's
// performance.now() clock, like `t.key`, `t.tick` and `t.step`), then the scene gets them (for
// the telemetry and the recorder). Records that will never be on screen are committed with
// `t.drawn = null`: while the tab is hidden (no animation frames come; records still waiting
// when it becomes hidden too), and when no animation frame came within DRAW_TIMEOUT_MS.
//
// Which draw a record was on screen with depends on the scene. Single-player records are drawn
// with the message that carried them (`drawnWithMessage`). Multiplayer records settle (become
// final) some ticks after the speculative state past them was drawn, so each gets the time that
// state was first drawn (`SettledDrawTimes`).

/** A frame not drawn within this long (no animation frame came) is recorded as not drawn. */
export const DRAW_TIMEOUT_MS = 1000;

/**
 * @typedef {import("./recorder.js").FrameRecord} FrameRecord
 * @typedef {{records: FrameRecord[], telemetry: any}} Batch  the records of one worker message
 *   and that tick's telemetry
 * @typedef {{render: any[], hud: Record<string, number>, done: boolean, [key: string]: any}} FrameMessage
 *   what the drawer needs of a worker message (the scene may read more of `latest`)
 * @typedef {{
 *   shown: (latest: FrameMessage | null, drawn: number | null) => void,
 *   drawnAt: (record: FrameRecord, drawn: number | null) => number | null,
 *   reset: () => void,
 * }} DrawTimes  when a record was on screen: `shown` is told of every commit (drawn: when
 *   `latest` was drawn, or null), then `drawnAt` gives each committed record its `t.drawn`
 */

/** @type {DrawTimes} a record was on screen when the message that carried it was drawn */
export const drawnWithMessage = {
  shown() {},
  drawnAt: (_record, drawn) => drawn,
  reset() {},
};

/**
 * For rollback: a net_frame message renders the speculative state after its frames
 * 0 .. `frame` - 1 were simulated, but carries only the records that became final (settled) at
 * that tick, which are older. A record gets the time the first state that included its frame was
 * drawn; null if none was.
 * @implements {DrawTimes}
 */
export class SettledDrawTimes {
  constructor() {
    /** @type {Map<number, number>} frame -> when the state after it was first drawn */
    this.times = new Map();
    /** the frames below this have had their draw time set */
    this.drawnUpTo = 0;
  }

  /** @param {FrameMessage | null} latest @param {number | null} drawn */
  shown(latest, drawn) {
    if (drawn === null || !latest) return;
    for (let f = this.drawnUpTo; f < latest.frame; f += 1) this.times.set(f, drawn);
    this.drawnUpTo = Math.max(this.drawnUpTo, latest.frame);
  }

  /** @param {FrameRecord} record @returns {number | null} (each frame's time is given once) */
  drawnAt(record) {
    const drawn = this.times.get(record.frame) ?? null;
    this.times.delete(record.frame);
    return drawn;
  }

  reset() {
    this.times.clear();
    this.drawnUpTo = 0;
  }
}

export class FrameDrawer {
  /**
   * @param {{
   *   draw: (latest: FrameMessage) => void,
   *   committed: (batches: Batch[], latest: FrameMessage | null) => void,
   *   focus?: (visible: boolean) => void,
   *   drawTimes?: DrawTimes,
   *   drawLastAtOnce?: boolean,
   * }} options
   *   draw: put a message's render and HUD on the page;
   *   committed: the records received since the last commit, stamped (`latest`: the newest message);
   *   focus: the tab was shown or hidden (called before hidden records are committed);
   *   drawTimes: `drawnWithMessage` (the default) or a `SettledDrawTimes`;
   *   drawLastAtOnce: an episode's last message (`done`) is drawn and committed when it comes,
   *   not on the next animation frame
   */
  constructor(options) {
    this.draw = options.draw;
    this.committed = options.committed;
    this.focus = options.focus ?? (() => {});
    this.drawTimes = options.drawTimes ?? drawnWithMessage;
    this.drawLastAtOnce = options.drawLastAtOnce ?? false;
    /** @type {Batch[]} received, not committed yet */
    this.undrawn = [];
    /** @type {FrameMessage | null} the newest message: what the next animation frame draws */
    this.latest = null;
    this.rafPending = false;
    this.drawTimer = 0;
    this.destroyed = false;
    this.onVisibility = () => this.visibilityChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** A new episode: forget the last one's newest message, waiting records and draw times. */
  reset() {
    this.latest = null;
    this.undrawn = [];
    this.drawTimes.reset();
  }

  /**
   * A message from the worker: draw it on the next animation frame (or commit its records now
   * as not drawn, when the tab is hidden).
   * @param {FrameMessage} message
   * @param {FrameRecord[]} records its frame records (`records`, or a net_frame's `settled`)
   */
  receive(message, records) {
    this.undrawn.push({ records, telemetry: message.telemetry });
    this.latest = message;
    const hidden = document.visibilityState === "hidden";
    if (this.drawLastAtOnce && message.done && !hidden) {
      this.paint();
    } else if (hidden || (this.drawLastAtOnce && message.done)) {
      this.commit(null); // no animation frames while hidden: recorded as not drawn
    } else if (!this.rafPending) {
      // (after a timeout the animation frame is still awaited: it draws what came since)
      this.rafPending = true;
      requestAnimationFrame(() => this.paint());
      this.drawTimer = window.setTimeout(() => this.commit(null), DRAW_TIMEOUT_MS);
    }
  }

  /** Draw the newest message and commit what came since the last draw as drawn now. */
  paint() {
    this.rafPending = false;
    clearTimeout(this.drawTimer);
    if (this.destroyed || !this.latest || this.undrawn.length === 0) return;
    this.draw(this.latest);
    this.commit(performance.now());
  }

  /**
   * The records received since the last commit are on screen now (drawn = that time), or never
   * will be (null): stamp them and hand them to the scene.
   * @param {number | null} drawn
   */
  commit(drawn) {
    clearTimeout(this.drawTimer);
    const batches = this.undrawn;
    this.undrawn = [];
    this.drawTimes.shown(this.latest, drawn);
    for (const { records } of batches) {
      for (const record of records) record.t.drawn = this.drawTimes.drawnAt(record, drawn);
    }
    this.committed(batches, this.latest);
  }

  visibilityChanged() {
    const visible = document.visibilityState === "visible";
    this.focus(visible);
    if (!visible && this.undrawn.length) this.commit(null);
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.drawTimer);
    document.removeEventListener("visibilitychange", this.onVisibility);
  }
}
