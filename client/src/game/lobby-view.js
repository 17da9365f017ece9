// What a multiplayer game scene shows besides the game: the waiting room (with the number of
// participants waiting, unless the scene hides it), "connecting to your partner", the message
// after a waiting timeout (and its redirect) and the "partner left" message with a way on (the
// pause overlay is net-pause.js's). Drawn on the game's overlay (view.js), text only.

/** Seconds before following a waiting-timeout redirect. */
export const REDIRECT_DELAY_S = 3;
export class LobbyView {
  /** @param {import("./view.js").GameView} view */
  constructor(view) {
    this.view = view;
    this.timer = 0;
  }

  /** @param {number | null} waiting participants waiting (null: the scene hides the count) */
  showWaiting(waiting) {
    const children = [line("overlay-title", "Waiting for other participants…"), line("overlay-text", "The game starts as soon as a partner is found. Please keep this tab open.")];
    if (typeof waiting === "number") {
      const count = line("overlay-text lobby-count", `${waiting} ${waiting === 1 ? "participant is" : "participants are"} waiting`);
      count.dataset.waiting = String(waiting);
      children.push(count);
    }
    this.view.show("waiting", children);
  }

  showConnecting() {
    this.view.show("connecting", [line("overlay-title", "Partner found"), line("overlay-text", "Connecting to your partner…")]);
  }

  /**
   * A final message with a button that continues the study (or, with a redirect URL, a
   * redirect), and the completion code the server gave, if any.
   * @param {string} kind "timeout" | "partner_left" | "ended"
   * @param {string} title
   * @param {string} text
   * @param {{redirectUrl?: string | null, completionCode?: string | null, onContinue?: () => void}} next
   */
  showFinal(kind, title, text, next) {
    const children = [line("overlay-title", title), line("overlay-text", text)];
    if (next.completionCode) {
      const code = line("overlay-text completion-code", `Your completion code: ${next.completionCode}`);
      code.dataset.code = next.completionCode;
      children.push(code);
    }
    if (next.redirectUrl) {
      const url = next.redirectUrl;
      const note = line("overlay-text", `You will be redirected in ${REDIRECT_DELAY_S} s — or `);
      const link = document.createElement("a");
      link.href = url;
      link.textContent = "continue now";
      note.append(link);
      children.push(note);
      this.timer = window.setTimeout(() => window.location.assign(url), REDIRECT_DELAY_S * 1000);
    } else if (next.onContinue) {
      const button = document.createElement("button");
      button.className = "continue";
      button.textContent = "Continue";
      const go = next.onContinue;
      button.addEventListener("click", () => {
        button.disabled = true;
        go();
      });
      children.push(button);
    }
    this.view.show(kind, children);
  }

  destroy() {
    clearTimeout(this.timer);
  }
}

/**
 * Ask the server for a place in the scene's waiting room (again after a reconnect: idempotent).
 * @param {string} sceneId
 * @param {{enqueue: (message: Record<string, unknown>) => number, serverRtt?: () => number | null}} handlers
 */
export function sendLobbyJoin(sceneId, handlers) {
  handlers.enqueue({ type: "lobby_join", scene_id: sceneId, attributes: {}, server_rtt_ms: handlers.serverRtt?.() ?? null });
}

/**
 * The waiting room's "lobby" message: keep the count, show it while waiting.
 * @param {{waiting: number | null, phase: string}} state
 * @param {LobbyView} view
 * @param {{waiting?: number | null}} message
 */
export function waitingCount(state, view, message) {
  state.waiting = message.waiting ?? null;
  if (state.phase === "waiting") view.showWaiting(state.waiting);
}

/** @param {string} className @param {string} text @returns {HTMLElement} */
function line(className, text) {
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  return p;
}
