// What a game scene shows: title and instructions, the HUD (round, score, time left), the canvas,
// and an overlay on it for loading progress, the countdown, messages and errors.
// Text from the server's scene is the researcher's (trusted HTML for instructions); everything
// else is inserted as text.

/**
 * @typedef {{episodes: number, max_steps: number, fps: number}} HudScene
 */

export class GameView {
  /**
   * @param {HTMLElement} container
   * @param {{index: number, count: number, scene: {id: string, kind: string, title: string, html: string}}} message
   */
  constructor(container, message) {
    const { scene } = message;
    this.container = container;
    container.replaceChildren();
    container.dataset.sceneId = scene.id;
    container.dataset.sceneKind = scene.kind;
    document.title = scene.title || document.title;
    if (message.count > 1) {
      container.append(el("p", "progress", `Page ${message.index + 1} of ${message.count}`));
    }
    if (scene.title) container.append(el("h1", "", scene.title));
    if (scene.html) {
      const body = el("div", "scene-html game-instructions");
      body.innerHTML = scene.html;
      container.append(body);
    }
    const game = el("div", "game");
    this.round = el("span", "hud-round");
    this.score = el("span", "hud-score");
    this.timeLeft = el("span", "hud-time");
    const hud = el("div", "hud");
    hud.setAttribute("aria-live", "off");
    hud.append(this.round, this.score, this.timeLeft);
    const stage = el("div", "game-stage");
    this.canvas = /** @type {HTMLCanvasElement} */ (el("canvas", "game-canvas"));
    this.canvas.setAttribute("aria-label", "the game");
    this.overlay = el("div", "game-overlay");
    this.overlay.setAttribute("role", "status");
    stage.append(this.canvas, this.overlay);
    game.append(hud, stage);
    container.append(game);
  }

  /**
   * @param {Record<string, any>} hud the HUD values: episode, frame, max_steps, score, and in
   *   turn-based games `turn` (the agent whose move it is)
   * @param {HudScene} scene
   * @param {string} [you] this participant's agent (whose turn it is shows instead of the time)
   */
  updateHud(hud, scene, you) {
    setText(this.round, `Round ${hud.episode + 1} of ${scene.episodes}`);
    setText(this.score, `Score ${formatNumber(hud.score)}`);
    if (typeof hud.turn === "string") {
      setText(this.timeLeft, hud.turn === you ? "Your turn" : "Your partner's turn");
      this.timeLeft.dataset.turn = hud.turn === you ? "you" : "partner";
      return;
    }
    const left = Math.max(0, Math.ceil((hud.max_steps - hud.frame) / scene.fps));
    setText(this.timeLeft, `Time left ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`);
  }

  /** @param {string} text @param {number} fraction 0..1 */
  showLoading(text, fraction) {
    const bar = /** @type {HTMLProgressElement} */ (el("progress", "loading-bar"));
    bar.max = 1;
    bar.value = Math.max(0, Math.min(1, fraction));
    this.show("loading", [el("p", "overlay-title", "Loading the game"), bar, el("p", "overlay-text", text)]);
  }

  /** @param {string} heading @param {string} text @param {number} seconds */
  showCountdown(heading, text, seconds) {
    this.show("countdown", [
      el("p", "overlay-title", heading),
      el("p", "overlay-text", text),
      el("p", "countdown-number", String(seconds)),
    ]);
  }

  /**
   * The countdown before a round, under the previous round's score (when there are several).
   * @param {number} episode the round about to start, from 0
   * @param {number} total rounds in the scene
   * @param {{score?: unknown} | undefined} previous the summary of the round before, if any
   * @param {number} seconds left
   */
  showRoundCountdown(episode, total, previous, seconds) {
    const heading = previous && total > 1 ? `Round ${episode} done — score ${formatNumber(Number(previous.score))}` : "Get ready";
    this.showCountdown(heading, `Round ${episode + 1} of ${total} starts in`, seconds);
  }

  /** @param {string} title @param {string} text */
  showMessage(title, text) {
    this.show("message", [el("p", "overlay-title", title), el("p", "overlay-text", text)]);
  }

  /** @param {string} text @param {string} hint */
  showError(text, hint) {
    const reload = el("button", "continue", "Reload the page");
    reload.addEventListener("click", () => window.location.reload());
    this.show("error", [el("p", "overlay-title", "Something went wrong"), el("p", "overlay-text", text), el("p", "overlay-text", hint), reload]);
  }

  hideOverlay() {
    this.overlay.hidden = true;
    this.overlay.dataset.kind = "";
  }

  /** @param {string} kind @param {HTMLElement[]} children */
  show(kind, children) {
    this.overlay.hidden = false;
    this.overlay.dataset.kind = kind;
    this.overlay.classList.toggle("error", kind === "error");
    this.overlay.replaceChildren(...children);
  }
}

/** @param {HTMLElement} node @param {string} text only touch the DOM when the text changes */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** @param {number} n */
function formatNumber(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text] set as text, never parsed as HTML
 * @returns {HTMLElement}
 */
function el(tag, className = "", text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
