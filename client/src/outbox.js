// Reliable delivery of submits and events: every message gets a seq, stays in the outbox until
// the server acks it, and is re-sent with the same seq after a reconnect or a reload.

import { loadOutbox, saveOutbox } from "./session.js";

export class Outbox {
  /** @param {(message: Record<string, unknown>) => boolean} transmit sends now, false if it cannot */
  constructor(transmit) {
    this.transmit = transmit;
    this.state = loadOutbox();
    /** @type {string | null} */
    this.token = null;
    /** @type {Map<number, number>} retries so far of messages the server asked to send again */
    this.retries = new Map();
  }

  /**
   * Queue a message (without token and seq) and send it if the session is established.
   * @param {Record<string, unknown>} message
   * @returns {number} its seq
   */
  enqueue(message) {
    const seq = this.state.next_seq;
    this.state.next_seq += 1;
    this.state.pending.push({ seq, message });
    saveOutbox(this.state);
    if (this.token) this.transmit({ ...message, token: this.token, seq });
    return seq;
  }

  /**
   * The server welcomed us: send everything it has not acked yet.
   * @param {{participant_id: string, token: string, last_seq?: number}} welcome
   */
  established(welcome) {
    if (this.state.participant_id !== welcome.participant_id) {
      // Someone else's unsent messages must not be sent under this identity; messages queued
      // before the first welcome of all (no identity yet) are this participant's.
      if (this.state.participant_id !== null) this.state.pending = [];
      this.state.participant_id = welcome.participant_id;
    }
    if (Number.isInteger(welcome.last_seq)) {
      this.state.next_seq = Math.max(this.state.next_seq, Number(welcome.last_seq) + 1);
    }
    this.token = welcome.token;
    saveOutbox(this.state);
    for (const { seq, message } of this.state.pending) {
      if (!this.transmit({ ...message, token: this.token, seq })) break;
    }
  }

  /** The connection dropped: hold messages until the next welcome. */
  disconnected() {
    this.token = null;
  }

  /**
   * The server answered seq (ack, or an error about it): forget the message.
   * @param {number} seq
   * @returns {Record<string, unknown> | null} the message that was answered, if we still had it
   */
  settle(seq) {
    const index = this.state.pending.findIndex((entry) => entry.seq === seq);
    if (index < 0) return null;
    const [entry] = this.state.pending.splice(index, 1);
    this.retries.delete(seq);
    saveOutbox(this.state);
    return entry.message;
  }

  /**
   * The server could not take message seq now (its database was busy, or this page sent too
   * much too fast) and asks for it again later: keep it and send it again after a delay that
   * grows with each retry (1 s, 2 s, 4 s, … up to 30 s, with jitter).
   * @param {number} seq
   * @returns {number} the delay in ms, or -1 if the message is not waiting any more
   */
  retryLater(seq) {
    const entry = this.state.pending.find((e) => e.seq === seq);
    if (!entry) return -1;
    const attempt = (this.retries.get(seq) ?? 0) + 1;
    this.retries.set(seq, attempt);
    const base = Math.min(30_000, 1000 * 2 ** (attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    setTimeout(() => {
      const still = this.state.pending.find((e) => e.seq === seq);
      if (still && this.token) this.transmit({ ...still.message, token: this.token, seq });
    }, delay);
    return delay;
  }

  /** @returns {number} how many messages wait for an ack */
  get size() {
    return this.state.pending.length;
  }
}
