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
    saveOutbox(this.state);
    return entry.message;
  }

  /** @returns {number} how many messages wait for an ack */
  get size() {
    return this.state.pending.length;
  }
}
