// The human's input as the game clock sees it: key events arrive from the main thread whenever
// they happen, and each tick samples one action. Pure JS, no timers: the clock lives in
// game-loop.js.
//
// "held" mode: the action of the key held down at the tick (the most recently pressed one when
// several are held). A key pressed and released between two ticks still acts once, so a quick tap
// is never lost; several taps between two ticks act on consecutive ticks, in order.
// "press" mode: each key press acts once, on the next tick that has not used a press yet.
// Idle (nothing held, no press waiting) or unfocused: the default action.

/** A press waits at most this many ticks; older presses are dropped (a stuck queue is worse). */
const MAX_QUEUED = 8;

/** @typedef {{action: number, t: number}} KeyPress  t: the key event's time, ms on the page's clock */
/** @typedef {{action: number | null, key_t: number | null}} Sample  action null: the default action */

export class InputState {
  /** @param {"held" | "press"} mode */
  constructor(mode) {
    this.mode = mode;
    /** @type {KeyPress[]} keys down now, oldest first */
    this.held = [];
    /** @type {KeyPress[]} key presses no tick has used yet */
    this.fresh = [];
    this.focused = true;
  }

  /** @param {number} action @param {number} t */
  down(action, t) {
    if (!this.focused) return;
    this.held = this.held.filter((k) => k.action !== action);
    this.held.push({ action, t });
    this.fresh.push({ action, t });
    if (this.fresh.length > MAX_QUEUED) this.fresh.shift();
  }

  /** @param {number} action */
  up(action) {
    this.held = this.held.filter((k) => k.action !== action);
  }

  /** Forget every key (the window lost focus: key-up events will not come). */
  clear() {
    this.held = [];
    this.fresh = [];
  }

  /** @param {boolean} focused */
  setFocused(focused) {
    this.focused = focused;
    if (!focused) this.clear();
  }

  /**
   * The action for this tick, and the time of the key event that caused it (null when no key
   * event is new at this tick: a key still held, or idle).
   * @returns {Sample}
   */
  sample() {
    if (!this.focused) return { action: null, key_t: null };
    const press = this.fresh.shift();
    if (press) return { action: press.action, key_t: press.t };
    if (this.mode === "held" && this.held.length > 0) {
      return { action: this.held[this.held.length - 1].action, key_t: null };
    }
    return { action: null, key_t: null };
  }
}
