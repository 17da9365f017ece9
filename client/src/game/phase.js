// A game scene's phase as tests see it (`window.igym.game.phase`, mirrored in
// `document.body.dataset.game`), and a failure: a short message and a reference number shown on
// the canvas, kept in the state (`window.igym.game.error`, `.error_ref`), and logged on the
// server as a `game_error` event with the full detail (a Python traceback, say), which the
// server writes to its log under the same reference. For both game scenes (game-scene.js,
// net-game-scene.js).

/** The longest reason shown to a participant (the whole of it goes to the log). */
const MAX_SHOWN_REASON = 120;
/** The most detail sent to the server: a longer traceback keeps its end (the exception). */
const MAX_DETAIL = 2500;
/** The server refuses event data over 4096 characters of JSON (`Limits.event_bytes`). */
const MAX_EVENT_JSON = 4000;

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
 * @typedef {{ref: string, text: string, detail: string}} Failure
 *   `text` for the participant (one sentence and the reference), `detail` for the researcher.
 */

/** A reference number a participant can quote: 8 random hex digits, e.g. "3F9A-07C2". */
export function newReference() {
  const [n] = crypto.getRandomValues(new Uint32Array(1));
  const hex = n.toString(16).toUpperCase().padStart(8, "0");
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

/**
 * What went wrong, for both audiences. The first line of `reason` (ours, such as "out of
 * memory", cut to a readable length) is shown after the headline; a Python traceback is not
 * shown at all. The whole reason is sent on with the reference.
 * @param {string} headline a sentence for the participant, without the final stop
 * @param {string} [reason] what caused it, as the error said
 * @returns {Failure}
 */
export function failure(headline, reason = "") {
  const ref = newReference();
  const first = reason.trim().split("\n", 1)[0].trim();
  let shown = first.startsWith("Traceback") ? "" : first;
  if (shown.length > MAX_SHOWN_REASON) shown = `${shown.slice(0, MAX_SHOWN_REASON - 1)}…`;
  const sentence = shown ? `${headline}: ${shown}` : headline;
  return {
    ref,
    text: `${sentence.replace(/[.…]$/, "")}. (Reference ${ref})`,
    detail: reason.trim() ? tail(`${headline}: ${reason}`, MAX_DETAIL) : headline,
  };
}

/** @param {string} text @param {number} max @returns {string} the last `max` characters */
function tail(text, max) {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}

/**
 * @param {{phase: string, error: string | null, error_ref?: string | null, episode: number}} state
 * @param {import("./view.js").GameView} view
 * @param {(message: Record<string, unknown>) => number} enqueue the outbox
 * @param {string} code for the event, e.g. "game_error", "unsupported_browser"
 * @param {Failure} what from failure()
 */
export function showFailure(state, view, enqueue, code, what) {
  setPhase(state, "error");
  state.error = what.text;
  state.error_ref = what.ref;
  view.showError(
    what.text,
    "Reloading the page continues the study where you left it. If this happens again, please " +
      "tell the researcher the reference.",
  );
  const data = { code, ref: what.ref, message: what.text.slice(0, 500), detail: what.detail, episode: state.episode };
  while (JSON.stringify(data).length > MAX_EVENT_JSON) data.detail = tail(data.detail, data.detail.length - 200);
  enqueue({ type: "event", name: "game_error", data });
  console.error(`igym game: ${what.detail} (reference ${what.ref})`);
}
