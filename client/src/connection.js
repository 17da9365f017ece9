// The participant's websocket: connects, says hello on every (re)connection, reconnects with
// exponential backoff and jitter (at once when the browser says it is back online), and keeps a
// ping going. It knows nothing about scenes.

/** @typedef {"connecting" | "open" | "reconnecting" | "stopped"} ConnectionState */
/** @typedef {{state: ConnectionState, attempt: number, delay_ms?: number, reason?: string}} ConnectionStatus */

export class Connection {
  /**
   * @param {{
   *   url: string,
   *   hello: () => Record<string, unknown>,
   *   onMessage: (message: Record<string, any>) => void,
   *   onStatus: (status: ConnectionStatus) => void,
   *   minDelayMs?: number,
   *   maxDelayMs?: number,
   *   pingIntervalMs?: number,
   * }} options
   */
  constructor(options) {
    this.url = options.url;
    this.hello = options.hello;
    this.onMessage = options.onMessage;
    this.onStatus = options.onStatus;
    this.minDelayMs = options.minDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 5_000;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    /** @type {number | null} the last measured websocket round trip, ms */
    this.rttMs = null;
    this.pingTimer = 0;
    this.retryTimer = 0;
    // back online after an outage: no need to wait out the backoff
    this.onOnline = () => {
      if (this.stopped || this.socket) return;
      clearTimeout(this.retryTimer);
      this.open();
    };
  }

  /** Open the connection (and keep re-opening it until stop()). */
  start() {
    this.stopped = false;
    globalThis.addEventListener?.("online", this.onOnline);
    this.open();
  }

  /** Measure the round trip now (the pong sets rttMs); false if the socket is not open. */
  ping() {
    return this.send({ type: "ping", t: performance.now() });
  }

  /**
   * Stop for good: close the socket and never reconnect (e.g. the session was taken).
   * @param {string} reason
   */
  stop(reason) {
    this.stopped = true;
    globalThis.removeEventListener?.("online", this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.socket?.close(1000, reason.slice(0, 100));
    this.socket = null;
    this.onStatus({ state: "stopped", attempt: this.attempt, reason });
  }

  /** @returns {boolean} whether the socket is open */
  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /**
   * Send a message now if the socket is open.
   * @param {Record<string, unknown>} message
   * @returns {boolean} false if it could not be sent
   */
  send(message) {
    if (!this.isOpen || !this.socket) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  open() {
    this.onStatus({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this.retry(String(err));
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onStatus({ state: "open", attempt: 0 });
      socket.send(JSON.stringify(this.hello()));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("igym: ignored a frame that is not JSON", event.data);
        return;
      }
      if (message?.type === "pong" && typeof message.t === "number") {
        this.rttMs = performance.now() - message.t;
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      if (!this.stopped) this.retry(event.reason || `closed (${event.code})`);
    });
    // "error" is always followed by "close", which schedules the retry.
  }

  /** @param {string} reason */
  retry(reason) {
    this.attempt += 1;
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** (this.attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.onStatus({ state: "reconnecting", attempt: this.attempt, delay_ms: delay, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}

/** @returns {string} the websocket URL of this server's /ws endpoint */
export function websocketURL() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws`;
}
