// A main-thread timer that measures how late each beat fires. Used by the self-test to prove
// that booting Pyodide in the worker does not block the page (SPEC §2: a 500 ms heartbeat never
// misses a beat during start-up).

export class Heartbeat {
  /** @param {number} periodMs */
  constructor(periodMs) {
    this.periodMs = periodMs;
    this.beats = 0;
    /** worst lateness seen, in ms */
    this.maxLateMs = 0;
    /** @type {number[]} lateness of every beat, in ms */
    this.lateness = [];
    this.timer = 0;
    this.startedAt = 0;
  }

  start() {
    this.startedAt = performance.now();
    this.schedule(1);
    return this;
  }

  stop() {
    clearTimeout(this.timer);
  }

  /** @param {number} n the beat number to wait for */
  schedule(n) {
    const due = this.startedAt + n * this.periodMs;
    this.timer = setTimeout(() => {
      const late = Math.max(0, performance.now() - due);
      this.beats += 1;
      this.lateness.push(late);
      this.maxLateMs = Math.max(this.maxLateMs, late);
      this.schedule(n + 1);
    }, Math.max(0, due - performance.now()));
  }

  /** @returns {{period_ms: number, beats: number, max_late_ms: number, worst_late_ms: number[]}} */
  summary() {
    const worst = [...this.lateness].sort((a, b) => b - a).slice(0, 3).map(round);
    return { period_ms: this.periodMs, beats: this.beats, max_late_ms: round(this.maxLateMs), worst_late_ms: worst };
  }
}

/** @param {number} x */
function round(x) {
  return Math.round(x * 10) / 10;
}
