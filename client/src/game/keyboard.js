// Keyboard input for a game scene: the scene's key bindings (KeyboardEvent.key -> action) turned
// into key events for the worker, stamped with the time of the key event. The worker's input
// state (worker/input-state.js) decides the action of each tick; this module only listens.
//
// Bound keys never scroll the page or move focus (arrow keys, space). Auto-repeat is ignored:
// a held key is one key-down. Losing focus releases every key (key-up events will not come).

/**
 * @typedef {{type: "input", kind: "down" | "up" | "clear", action?: number, t?: number}} InputMessage
 */

export class Keyboard {
  /**
   * @param {Record<string, number>} bindings KeyboardEvent.key -> action
   * @param {(message: InputMessage) => void} send
   */
  constructor(bindings, send) {
    /** @type {Map<string, number>} bindings by key, letters matched case-insensitively */
    this.bindings = new Map();
    for (const [key, action] of Object.entries(bindings)) {
      this.bindings.set(normalise(key), Number(action));
    }
    this.send = send;
    /** @type {Set<string>} keys down now */
    this.down = new Set();
    this.enabled = false;
    this.onKeyDown = (/** @type {KeyboardEvent} */ event) => this.keyDown(event);
    this.onKeyUp = (/** @type {KeyboardEvent} */ event) => this.keyUp(event);
    this.onBlur = () => this.releaseAll();
    window.addEventListener("keydown", this.onKeyDown);
    window.addEventListener("keyup", this.onKeyUp);
    window.addEventListener("blur", this.onBlur);
  }

  /** @param {boolean} enabled whether key events go to the game (they are always kept from scrolling) */
  setEnabled(enabled) {
    if (this.enabled && !enabled) this.releaseAll();
    this.enabled = enabled;
  }

  /** @param {KeyboardEvent} event */
  keyDown(event) {
    const key = normalise(event.key);
    const action = this.bindings.get(key);
    if (action === undefined || isTyping(event)) return;
    event.preventDefault();
    if (event.repeat || this.down.has(key) || !this.enabled) return;
    this.down.add(key);
    this.send({ type: "input", kind: "down", action, t: event.timeStamp || performance.now() });
  }

  /** @param {KeyboardEvent} event */
  keyUp(event) {
    const key = normalise(event.key);
    const action = this.bindings.get(key);
    if (action === undefined || isTyping(event)) return;
    event.preventDefault();
    if (!this.down.delete(key)) return;
    this.send({ type: "input", kind: "up", action, t: event.timeStamp || performance.now() });
  }

  releaseAll() {
    this.down.clear();
    this.send({ type: "input", kind: "clear" });
  }

  destroy() {
    window.removeEventListener("keydown", this.onKeyDown);
    window.removeEventListener("keyup", this.onKeyUp);
    window.removeEventListener("blur", this.onBlur);
  }
}

/** @param {string} key @returns {string} "a" and "A" are the same key; "ArrowUp" stays */
function normalise(key) {
  return key.length === 1 ? key.toLowerCase() : key;
}

/** @param {KeyboardEvent} event whether the key goes to a text field (never hijack typing) */
function isTyping(event) {
  const target = /** @type {HTMLElement | null} */ (event.target);
  if (!target || !target.tagName) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}
