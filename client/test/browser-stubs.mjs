// Just enough of a browser for the client's DOM-free modules: Web Storage, location, WebSocket.
// Import this before the module under test.

class MemoryStorage {
  constructor() {
    /** @type {Map<string, string>} */
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
  clear() {
    this.items.clear();
  }
}

/** A WebSocket that records what is sent and lets the test open, message and close it. */
export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  /** @type {FakeWebSocket[]} every socket created, in order */
  static created = [];

  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    /** @type {unknown[]} parsed frames sent by the client */
    this.sent = [];
    /** @type {Map<string, Function[]>} */
    this.listeners = new Map();
    FakeWebSocket.created.push(this);
  }
  addEventListener(type, fn) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  emit(type, event = {}) {
    for (const fn of this.listeners.get(type) ?? []) fn(event);
  }
  send(text) {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000, reason = "") {
    this.readyState = FakeWebSocket.CLOSED;
    this.emit("close", { code, reason });
  }
  // test controls
  serverOpens() {
    this.readyState = FakeWebSocket.OPEN;
    this.emit("open");
  }
  serverSays(message) {
    this.emit("message", { data: JSON.stringify(message) });
  }
  serverDrops() {
    this.readyState = FakeWebSocket.CLOSED;
    this.emit("close", { code: 1006, reason: "" });
  }
}

/** Fresh storage and location for each test. */
export function resetBrowser(search = "") {
  globalThis.localStorage = new MemoryStorage();
  globalThis.sessionStorage = new MemoryStorage();
  globalThis.window = globalThis;
  globalThis.location = { search, protocol: "http:", host: "127.0.0.1:8000", href: `http://127.0.0.1:8000/${search}` };
  globalThis.WebSocket = FakeWebSocket;
  FakeWebSocket.created = [];
}

resetBrowser();

/**
 * A page for the game modules (opt-in): document visibility and its event, `document.body.dataset`,
 * and animation frames that run only when the test says so.
 * @returns {{frames: Function[], runFrames: () => void, setVisibility: (state: "visible" | "hidden") => void}}
 */
export function installPage() {
  /** @type {Map<string, Function[]>} */
  const listeners = new Map();
  globalThis.document = {
    visibilityState: "visible",
    body: { dataset: {} },
    addEventListener(type, fn) {
      listeners.set(type, [...(listeners.get(type) ?? []), fn]);
    },
    removeEventListener(type, fn) {
      listeners.set(type, (listeners.get(type) ?? []).filter((f) => f !== fn));
    },
  };
  const page = {
    /** @type {Function[]} animation frame callbacks not run yet */
    frames: [],
    runFrames() {
      for (const fn of page.frames.splice(0)) fn(performance.now());
    },
    setVisibility(state) {
      globalThis.document.visibilityState = state;
      for (const fn of listeners.get("visibilitychange") ?? []) fn();
    },
  };
  globalThis.requestAnimationFrame = (fn) => page.frames.push(fn);
  return page;
}
