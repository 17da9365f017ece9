// The replay's clock: which frame to show now, with play/pause, speed and seeking (DOM-free).

export class ReplayClock {
  /**
   * @param {number} frames how many frames there are (shown as 0..frames-1)
   * @param {number} fps frames per second at speed 1
   * @param {() => number} [now] ms
   */
  constructor(frames, fps, now = () => performance.now()) {
    this.frames = frames;
    this.fps = fps;
    this.now = now;
    this.speed = 1;
    this.playing = false;
    /** the frame shown when the clock last changed */
    this.base = 0;
    this.since = now();
  }

  /** @returns {number} the frame to show now (0 when there are none) */
  frame() {
    if (!this.playing) return this.base;
    const elapsed = ((this.now() - this.since) / 1000) * this.fps * this.speed;
    const frame = Math.min(this.frames - 1, this.base + Math.floor(elapsed));
    if (frame >= this.frames - 1) {
      this.base = Math.max(0, this.frames - 1);
      this.playing = false;
    }
    return Math.max(0, frame);
  }

  get ended() {
    return !this.playing && this.frames > 0 && this.base >= this.frames - 1;
  }

  play() {
    if (this.ended) this.base = 0; // play again from the start
    this.base = this.frame();
    this.since = this.now();
    this.playing = this.frames > 1;
  }

  pause() {
    this.base = this.frame();
    this.playing = false;
  }

  /** @param {number} speed e.g. 0.5, 1, 2 */
  setSpeed(speed) {
    this.base = this.frame();
    this.since = this.now();
    this.speed = speed;
  }

  /** @param {number} frame */
  seek(frame) {
    this.base = Math.max(0, Math.min(this.frames - 1, Math.round(frame)));
    this.since = this.now();
  }
}
