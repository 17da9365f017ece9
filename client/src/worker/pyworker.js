// Main-thread handle on the Python worker: starts it, waits for READY, and queues commands
// sent before READY so callers never race the boot.

import { BOOT_ERROR, ERROR, READY, RESULT } from "./protocol.js";

/** @typedef {import("./protocol.js").ReadyMessage & {ready_ms: number}} ReadyInfo */

export class PythonWorker {
  /**
   * @param {{workerURL?: string | URL, indexURL?: string, onOutput?: (stream: string, text: string) => void,
   *           onEvent?: (message: import("./protocol.js").EventMessage) => void}} [options]
   *   workerURL: the worker module (default: python-worker.js next to this file);
   *   indexURL: where Pyodide lives (default: same-origin /static/pyodide/);
   *   onEvent: messages the worker sends on its own (progress, game frames, game errors), and
   *   {type: "crash", message} if the worker dies after READY.
   */
  constructor(options = {}) {
    const workerURL = new URL(options.workerURL ?? "./python-worker.js", import.meta.url);
    if (options.indexURL) workerURL.searchParams.set("indexURL", options.indexURL);
    /** @type {Map<number, {resolve: (v: unknown) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    /** @type {object[]} commands waiting for READY */
    this.queue = [];
    this.nextId = 1;
    this.isReady = false;
    this.onOutput = options.onOutput ?? ((stream, text) => console.log(`[python ${stream}]`, text));
    this.onEvent = options.onEvent ?? (() => {});
    const startedAt = performance.now();
    /** @type {Promise<ReadyInfo>} resolves on READY, rejects if the worker cannot boot */
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.startedAt = startedAt;
    this.worker = new Worker(workerURL, { type: "module", name: "igym-python" });
    this.worker.addEventListener("message", (event) => this.receive(event.data));
    this.worker.addEventListener("error", (event) => {
      const crashed = this.isReady;
      const message = event.message || (crashed ? "the Python worker stopped" : "the Python worker could not start (see the console)");
      this.fail(new Error(message));
      if (crashed) this.onEvent({ type: "crash", message });
    });
  }

  /**
   * Run Python code in the worker; resolves with the value of its last expression.
   * @param {string} code
   * @returns {Promise<unknown>}
   */
  run(code) {
    return this.call({ cmd: "run", code });
  }

  /**
   * Unpack a zip of Python packages (e.g. a scene's packages_url) into site-packages.
   * @param {string} url
   * @returns {Promise<unknown>} {url, bytes, site_packages, ms}
   */
  unpack(url) {
    return this.call({ cmd: "unpack", url: new URL(url, window.location.href).href });
  }

  /** Round trip main -> worker -> Python -> main. @returns {Promise<unknown>} */
  ping() {
    return this.call({ cmd: "ping" });
  }

  /**
   * Send a message that gets no reply (key and focus events); held until READY like commands.
   * @param {object} message
   */
  post(message) {
    if (this.isReady) this.worker.postMessage(message);
    else this.queue.push(message);
  }

  /** @param {object} command @returns {Promise<unknown>} */
  call(command) {
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const message = { ...command, id };
      if (this.isReady) this.worker.postMessage(message);
      else this.queue.push(message);
    });
  }

  terminate() {
    this.worker.terminate();
    this.fail(new Error("the Python worker was stopped"));
  }

  /** @param {import("./protocol.js").WorkerMessage} message */
  receive(message) {
    if (message.type === READY) {
      this.isReady = true;
      this.resolveReady({ ...message, ready_ms: performance.now() - this.startedAt });
      for (const queued of this.queue.splice(0)) this.worker.postMessage(queued);
    } else if (message.type === BOOT_ERROR) {
      this.fail(new Error(message.message));
    } else if (message.type === RESULT || message.type === ERROR) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.type === RESULT) waiter.resolve(message.value);
      else waiter.reject(new Error(message.message));
    } else if (message.type === "stdout" || message.type === "stderr") {
      this.onOutput(message.type, message.text);
    } else {
      this.onEvent(/** @type {import("./protocol.js").EventMessage} */ (message));
    }
  }

  /** @param {Error} error */
  fail(error) {
    this.rejectReady(error);
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    this.queue.length = 0;
  }
}
