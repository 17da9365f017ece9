// A game scene's phase as tests see it (`window.igym.game.phase`, mirrored in
// `document.body.dataset.game`), and a failure: shown on the canvas, kept in the state
// (`window.igym.game.error`) and logged on the server as a `game_error` event. For both game
// scenes (game-scene.js, net-game-scene.js).

/** @param {{phase: string}} state @param {string} phase */
export function setPhase(state, phase) {
  state.phase = phase;
  document.body.dataset.game = phase;
}

/** The scene is gone: no phase on the page. */
export function clearPhase() {
  delete document.body.dataset.game;
}

/**
 * @param {{phase: string, error: string | null, episode: number}} state the scene's
 * @param {import("./view.js").GameView} view
 * @param {(message: Record<string, unknown>) => number} enqueue the outbox
 * @param {string} code for the event, e.g. "game_error", "unsupported_browser"
 * @param {string} text for the participant (and the log)
 */
export function showFailure(state, view, enqueue, code, text) {
  setPhase(state, "error");
  state.error = text;
  view.showError(text, "Reloading the page continues the study where you left it.");
  enqueue({ type: "event", name: "game_error", data: { code, message: text.slice(0, 500), episode: state.episode } });
  console.error(`igym game: ${text}`);
}
