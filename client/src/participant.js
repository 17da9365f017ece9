// The participant page: wires the websocket, the outbox, the scene renderer and the status view.
// Protocol (JSON on /ws): hello -> welcome + scene; submit/event -> ack; ping -> pong; error.
// Entry screening (screen, probe_ping), warnings and exclusion: screening.js and showClosed().

import { Connection, websocketURL } from "./connection.js";
import { Drafts } from "./drafts.js";
import { renderGame } from "./game/game-scene.js";
import { Outbox } from "./outbox.js";
import { renderScene } from "./scenes.js";
import { SceneMonitor, screeningReport } from "./screening.js";
import { credentialsFor, saveSession, subjectFrom, urlParams } from "./session.js";
import { StatusView } from "./status.js";

/** Errors after which reconnecting cannot help: the participant must act. */
/** What the server sends about multiplayer game scenes (handled by the scene while it is shown). */
const MULTIPLAYER_MESSAGES = new Set([
  "lobby",
  "match",
  "signal",
  "relay",
  "match_start",
  "requeued",
  "match_ended",
  "lobby_timeout",
  "parity",
  "peer_link",
  "server_episode",
  "server_frame",
  "server_game_end",
]);

/** How long an excluded participant's game may play on to the match's end frame. */
const LEAVE_MAX_MS = 15_000;

/** Errors that mean "not now": the message is kept and sent again later. */
const RETRY_ERRORS = new Set(["store_busy", "rate_limited"]);

/** Refusals that end the visit with a page of their own (the server's message is the text). */
const CLOSED_PAGES = {
  study_closed: "This study is full",
  excluded: "Your participation has ended",
};

const FATAL_ERRORS = {
  session_taken:
    "This study is open in another tab or window. Please close this one and continue there.",
  bad_token:
    "We could not verify your session in this browser. Please use the original study link, or contact the researcher.",
};

function main() {
  const params = urlParams();
  const status = new StatusView(
    /** @type {HTMLElement} */ (document.getElementById("connection-status")),
    /** @type {HTMLElement} */ (document.getElementById("notice")),
  );
  const sceneRoot = /** @type {HTMLElement} */ (document.getElementById("scene"));
  /** @type {(import("./scenes.js").SceneView & {destroy?: () => void, resumed?: () => void,
   *            receive?: (message: Record<string, any>) => boolean,
   *            leave?: (message: Record<string, any>) => Promise<void> | null}) | null} */
  let view = null;
  /** seq of the submit that is waiting for the next scene, if any */
  let pendingSubmit = /** @type {number | null} */ (null);
  /** @type {SceneMonitor | null} reports a game scene's progress and focus to the server */
  let monitor = null;
  /** fire and forget (seq 0): never queued, never sent again */
  const sendNow = (/** @type {Record<string, unknown>} */ m) =>
    connection.send({ ...m, token: outbox.token, seq: 0 });

  const connection = new Connection({
    url: websocketURL(),
    hello: () => ({ type: "hello", params, ...credentialsFor(params) }),
    onStatus: (s) => {
      if (s.state !== "open") outbox.disconnected();
      status.connection(s);
    },
    onMessage: (message) => handle(message),
  });
  const outbox = new Outbox((message) => connection.send(message));

  /** @param {Record<string, any>} message */
  function handle(message) {
    switch (message.type) {
      case "welcome":
        saveSession({
          experiment_id: message.experiment_id,
          participant_id: message.participant_id,
          token: message.token,
          subject: subjectFrom(params),
        });
        outbox.established(message);
        // sent with the next request of this page (a reload): the server then knows that the
        // goodbye coming is no closed tab (ParticipantService.page_requested)
        document.cookie = `igym_pid=${message.participant_id}; path=/; SameSite=Strict`;
        window.igym.welcome = message;
        break;
      case "scene": {
        window.igym.scene = message;
        pendingSubmit = null;
        status.clearNotice();
        if (view?.sceneId === message.scene.id && message.scene.kind === "game") {
          view.resumed?.(); // a multiplayer scene tells the lobby it is still waiting
          break; // the game goes on (a reconnect re-sent its scene); its records are in the outbox
        }
        view?.destroy?.();
        monitor?.destroy();
        monitor = null;
        if (message.scene.kind === "game") {
          view = renderGame(sceneRoot, message, {
            enqueue: (m) => outbox.enqueue(m),
            queued: () => outbox.state.pending.map((entry) => entry.message),
            // multiplayer: signaling goes out at once (never re-sent), and the websocket's RTT
            signal: (m) => connection.send({ ...m, token: outbox.token, seq: 0 }),
            serverRtt: () => connection.rttMs,
            pingServer: () => connection.ping(),
            onContinue: (sceneId, responses) => {
              pendingSubmit = outbox.enqueue({ type: "submit", scene_id: sceneId, responses });
            },
          });
          const sceneId = message.scene.id;
          monitor = new SceneMonitor(sceneId, {
            send: sendNow,
            enqueue: (m) => outbox.enqueue(m),
            state: () => window.igym.game,
          });
          window.scrollTo(0, 0);
          break;
        }
        const drafts = new Drafts(window.igym.welcome?.participant_id ?? "", message.scene.id);
        view = renderScene(sceneRoot, message, {
          drafts,
          onContinue: (sceneId, responses) => {
            status.clearNotice();
            pendingSubmit = outbox.enqueue({ type: "submit", scene_id: sceneId, responses });
            drafts.clear();
          },
        });
        window.scrollTo(0, 0);
        break;
      }
      case "ack":
        outbox.settle(message.seq);
        break;
      case "screen":
        sendNow({ type: "screening", report: screeningReport() });
        break;
      case "probe_ping":
        connection.send({ type: "probe_pong", id: message.id });
        break;
      case "warning":
        document.body.dataset.warning = String(message.rule);
        status.showNotice(String(message.message));
        break;
      case "excluded": {
        // A multiplayer game plays on behind the exclusion page to the frame where the match
        // ends for every member (its inputs idle), so that every member's records end on the
        // same frame. Then what was recorded goes out (the server takes records for a while),
        // and the page stops.
        const leaving = view?.leave?.(message) ?? null;
        const game = leaving ? view : null;
        if (game) view = null; // showClosed must not stop it yet
        showClosed("excluded", String(message.message), message);
        const played = new Promise((resolve) => setTimeout(resolve, LEAVE_MAX_MS)); // at most
        Promise.race([leaving ?? Promise.resolve(), played]).then(() => {
          game?.destroy?.();
          drainThenStop("excluded");
        });
        break;
      }
      case "error":
        handleError(message);
        break;
      default:
        // lobby, match, signal, ... belong to a multiplayer game scene
        if (view?.receive?.(message)) break;
        // late news of a game scene the page has left (e.g. the last episode's parity verdict)
        if (MULTIPLAYER_MESSAGES.has(message.type)) break;
        console.warn("igym: unknown message from the server", message);
    }
  }

  /**
   * Replace the page with one that says why the visit ended (and how to get paid, if so).
   * @param {string} code
   * @param {string} text
   * @param {{redirect_url?: string | null, completion_code?: string | null}} detail
   */
  function showClosed(code, text, detail) {
    view?.destroy?.();
    view = null;
    monitor?.destroy();
    monitor = null;
    status.clearNotice();
    const title = document.createElement("h1");
    title.textContent = CLOSED_PAGES[/** @type {keyof typeof CLOSED_PAGES} */ (code)] ?? "This study has ended";
    const paragraph = document.createElement("p");
    paragraph.textContent = text;
    const parts = [title, paragraph];
    if (detail.completion_code) {
      const code = document.createElement("p");
      code.className = "completion-code";
      code.textContent = `Your completion code: ${detail.completion_code}`;
      parts.push(code);
    }
    if (detail.redirect_url && /^https?:\/\//.test(detail.redirect_url)) {
      const link = document.createElement("a");
      link.href = detail.redirect_url;
      link.textContent = "Continue";
      link.className = "redirect";
      parts.push(link);
      const url = detail.redirect_url;
      setTimeout(() => window.location.assign(url), 5000); // the link, if the jump fails
    }
    sceneRoot.replaceChildren(...parts);
    sceneRoot.dataset.sceneKind = "closed";
    sceneRoot.dataset.closed = code;
  }

  /** @param {string} reason stop once the outbox is empty (at most 10 s) */
  function drainThenStop(reason) {
    const until = performance.now() + 10_000;
    const check = () => {
      if (outbox.state.pending.length === 0 || performance.now() > until) connection.stop(reason);
      else setTimeout(check, 200);
    };
    check();
  }

  /** @param {{code: string, message: string, seq: number | null, detail?: Record<string, any>}} error */
  function handleError(error) {
    if (error.code in CLOSED_PAGES) {
      // the study is closed or full, or this participant was excluded: a page, not a banner
      if (typeof error.seq === "number" && error.seq > 0) outbox.settle(error.seq); // refused for good
      if (sceneRoot.dataset.closed === error.code) return; // shown already (with its message)
      connection.stop(error.code);
      showClosed(error.code, error.message, error.detail ?? {});
      return;
    }
    if (error.code in FATAL_ERRORS) {
      connection.stop(error.code);
      status.showFatal(FATAL_ERRORS[/** @type {keyof typeof FATAL_ERRORS} */ (error.code)]);
      return;
    }
    if (RETRY_ERRORS.has(error.code) && !outbox.token) {
      // the hello itself could not be taken now: say it again in a moment
      const delay = 1000 + Math.round(Math.random() * 1000);
      status.showNotice("The study is busy for a moment; please wait…");
      setTimeout(() => connection.send({ type: "hello", params, ...credentialsFor(params) }), delay);
      return;
    }
    if (RETRY_ERRORS.has(error.code) && typeof error.seq === "number" && error.seq > 0) {
      const delay = outbox.retryLater(error.seq);
      console.warn(`igym: the server asked to send message ${error.seq} again (${error.code}); in ${delay} ms`);
      return;
    }
    if (error.seq === 0) {
      // an answer to a fire-and-forget message (signaling, relayed packets): often just late,
      // e.g. a packet relayed after the partner left; nothing the participant can act on
      console.warn(`igym: the server refused a message (${error.code}): ${error.message}`);
      return;
    }
    if (typeof error.seq === "number") outbox.settle(error.seq);
    if (error.seq !== null && error.seq === pendingSubmit) {
      pendingSubmit = null;
      view?.setBusy(false);
    }
    status.showNotice(error.message || `The server reported a problem (${error.code}).`);
  }

  // Going away (tab closed, another page, a reload): say so, so that the server can tell
  // partners at once instead of waiting for a dropped connection's grace time.
  window.addEventListener("pagehide", () => connection.send({ type: "bye" }));

  document.addEventListener("visibilitychange", () => {
    outbox.enqueue({ type: "event", name: "visibility", data: { state: document.visibilityState } });
  });

  connection.start();
  // For tests and debugging: the live objects and the last welcome / scene messages.
  window.igym = { connection, outbox, welcome: null, scene: null };
}

main();
