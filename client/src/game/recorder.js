// Frame records of a game scene on their way to the server: buffered as they are drawn and sent
// in chunks (every FLUSH_MS, at most MAX_RECORDS records and about MAX_CHUNK_BYTES of JSON each)
// through the outbox, which keeps every message until the server acks it and re-sends it after a
// reconnect or a reload. The server stores each frame once, so a re-sent chunk is harmless.
// The buffer also goes out when the page is hidden for good (pagehide: reload, tab closed).

/** @typedef {{frame: number, actions: Record<string, number>, rewards: Record<string, number>,
 *             terminated: boolean, truncated: boolean, focused: boolean,
 *             infos: Record<string, unknown>, t: {key: number | null, tick: number | null, step: number, drawn: number | null}}} FrameRecord
 *   t.tick is null only in multiplayer records without a local input sample (see worker/net-loop.js) */
/** @typedef {(message: Record<string, unknown>) => number} Enqueue  the outbox: queue, get a seq */

export const FLUSH_MS = 500;
/** The server takes at most 1000 records per chunk and 64 KiB per message (token and seq included). */
export const MAX_RECORDS = 1000;
export const MAX_CHUNK_BYTES = 56 * 1024;

export class Recorder {
  /**
   * @param {string} sceneId
   * @param {Enqueue} enqueue
   */
  constructor(sceneId, enqueue) {
    this.sceneId = sceneId;
    this.enqueue = enqueue;
    this.episode = -1;
    /** @type {FrameRecord[]} */
    this.buffer = [];
    this.bufferBytes = 0;
    /** frames of the current episode handed to the outbox so far */
    this.sent = 0;
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    // a reload or a closed tab: what is buffered goes to the outbox (kept in localStorage, sent
    // after the reload) instead of being lost with the page
    this.onPageHide = () => this.flush();
    globalThis.addEventListener?.("pagehide", this.onPageHide);
  }

  /** @param {number} episode */
  begin(episode) {
    this.flush();
    this.episode = episode;
    this.sent = 0;
    this.enqueue({ type: "episode_start", scene_id: this.sceneId, episode });
  }

  /** @param {FrameRecord[]} records stepped and drawn (t.drawn set, or null if never drawn) */
  add(records) {
    for (const record of records) {
      const bytes = JSON.stringify(record).length + 1;
      if (this.buffer.length >= MAX_RECORDS || this.bufferBytes + bytes > MAX_CHUNK_BYTES) this.flush();
      this.buffer.push(record);
      this.bufferBytes += bytes;
    }
  }

  /** Send what is buffered as one chunk. */
  flush() {
    if (this.buffer.length === 0) return;
    const records = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    this.sent += records.length;
    this.enqueue({ type: "frames", scene_id: this.sceneId, episode: this.episode, records });
  }

  /**
   * The episode is over (or given up on: partial): send the rest and say so.
   * @param {{frames: number, partial: boolean, summary: Record<string, string | number | boolean | null>}} end
   */
  end(end) {
    this.flush();
    this.enqueue({ type: "episode_end", scene_id: this.sceneId, episode: this.episode, ...end });
  }

  destroy() {
    this.flush();
    clearInterval(this.timer);
    globalThis.removeEventListener?.("pagehide", this.onPageHide);
  }
}
