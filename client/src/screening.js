// Entry screening and continuous monitoring, the page's side (igym_core/server/screening.py and
// monitoring.py judge; the page only reports):
//
//   "screen"     -> one "screening" message: the browser's user agent, touch support, screen and
//                   window size (the server parses and judges them);
//   "probe_ping" -> "probe_pong" at once with the same id (the server measures the round trip);
//   in a game scene: a "monitor" message about once a second and at once when the tab is hidden
//                   or shown (episode, frame, playing, hidden, key presses so far), and one
//                   "focus_period" message when a hidden period starts and again when it ends
//                   (through the outbox: acknowledged and sent again after a reconnect).

/** @returns {Record<string, unknown>} what the server's entry rules judge */
export function screeningReport() {
  const nav = /** @type {any} */ (navigator);
  return {
    user_agent: navigator.userAgent.slice(0, 512),
    ua_mobile: typeof nav.userAgentData?.mobile === "boolean" ? nav.userAgentData.mobile : null,
    touch: window.matchMedia("(pointer: coarse)").matches, // the primary pointer is a finger
    max_touch_points: Math.min(1000, navigator.maxTouchPoints || 0),
    screen_width: Math.round(screen.width),
    screen_height: Math.round(screen.height),
    window_width: Math.round(window.innerWidth),
    window_height: Math.round(window.innerHeight),
    pixel_ratio: window.devicePixelRatio || 1,
  };
}

const MONITOR_MS = 1000;

/**
 * Reports a game scene's progress and focus to the server while it is shown.
 */
export class SceneMonitor {
  /**
   * @param {string} sceneId
   * @param {{
   *   send: (message: Record<string, unknown>) => void,
   *   enqueue: (message: Record<string, unknown>) => void,
   *   state: () => Record<string, any> | null | undefined,
   * }} io send: fire and forget (token and seq 0 added by the caller); enqueue: through the outbox
   */
  constructor(sceneId, io) {
    this.sceneId = sceneId;
    this.io = io;
    this.inputs = 0;
    this.period = 0;
    /** @type {Record<string, unknown> | null} the hidden period under way */
    this.away = null;
    this.onKey = (/** @type {KeyboardEvent} */ event) => {
      if (!event.repeat) this.inputs += 1;
    };
    this.onVisibility = () => this.visibility();
    document.addEventListener("keydown", this.onKey, true);
    document.addEventListener("visibilitychange", this.onVisibility);
    this.timer = setInterval(() => this.report(), MONITOR_MS);
    if (document.visibilityState === "hidden") this.visibility();
    this.report();
  }

  /** @returns {{episode: number, frame: number, playing: boolean}} */
  where() {
    const state = this.io.state() ?? {};
    const episode = Number.isInteger(state.episode) ? state.episode : -1;
    const frame = Number.isInteger(state.frame) ? state.frame : Number(state.frames_received) || 0;
    return { episode, frame: Math.max(0, frame), playing: state.phase === "playing" };
  }

  report() {
    const { episode, frame, playing } = this.where();
    this.io.send({
      type: "monitor",
      scene_id: this.sceneId,
      episode,
      frame,
      playing,
      hidden: document.visibilityState === "hidden",
      inputs: this.inputs,
    });
  }

  visibility() {
    const hidden = document.visibilityState === "hidden";
    const { episode, frame } = this.where();
    const now = performance.now();
    if (hidden && this.away === null) {
      this.away = {
        type: "focus_period",
        scene_id: this.sceneId,
        period: this.period,
        episode: episode >= 0 ? episode : null,
        start_frame: frame,
        start_ms: now,
      };
      this.period += 1;
      this.io.enqueue(this.away);
    } else if (!hidden && this.away !== null) {
      this.io.enqueue({ ...this.away, end_frame: frame, end_ms: now });
      this.away = null;
    }
    this.report();
  }

  destroy() {
    clearInterval(this.timer);
    document.removeEventListener("keydown", this.onKey, true);
    document.removeEventListener("visibilitychange", this.onVisibility);
    if (this.away !== null) {
      const { frame } = this.where();
      this.io.enqueue({ ...this.away, end_frame: frame, end_ms: performance.now() });
      this.away = null;
    }
  }
}
