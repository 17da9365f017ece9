// The admin page: one HTML shell, pages chosen by the URL's hash, live data from the server's
// event stream (/admin/api/stream). The dashboard redraws on every update; the other pages
// fetch their data again when the study changed, at most every REFRESH_MS.

import * as api from "./api.js";
import { el } from "./dom.js";
import { clock } from "./format.js";
import * as assignments from "./pages/assignments.js";
import * as dashboard from "./pages/dashboard.js";
import * as match from "./pages/match.js";
import * as matches from "./pages/matches.js";
import * as participant from "./pages/participant.js";
import * as participants from "./pages/participants.js";
import * as replay from "./pages/replay.js";
import * as study from "./pages/study.js";

const REFRESH_MS = 2000;

/**
 * @typedef {{update?: (snapshot: any) => void, refresh?: () => Promise<void>, destroy?: () => void}} PageView
 * @typedef {{me: any, snapshot: any, now: () => number, go: (hash: string) => void}} Context
 * @typedef {{render: (root: HTMLElement, ctx: Context, args: string[]) => PageView}} PageModule
 */

/** @type {[RegExp, string, PageModule][]} */
const ROUTES = [
  [/^#?\/?$/, "dashboard", dashboard],
  [/^#\/participants$/, "participants", participants],
  [/^#\/p\/([^/]+)$/, "participants", participant],
  [/^#\/matches$/, "matches", matches],
  [/^#\/m\/([^/]+)$/, "matches", match],
  [/^#\/log$/, "log", assignments],
  [/^#\/study$/, "study", study],
  [/^#\/replay\/([^/]+)\/([^/]+)\/(\d+)$/, "participants", replay],
];

const state = {
  /** @type {string} */ page: "",
  /** @type {any} */ snapshot: null,
  updates: 0,
  /** @type {number} Date.now() of the last update */ lastUpdate: 0,
  /** @type {PageView | null} */ view: null,
  lastRefresh: 0,
  refreshTimer: 0,
};

async function main() {
  const me = await api.get("me");
  api.setCsrf(me.csrf);
  const name = document.getElementById("experiment");
  if (name) name.textContent = me.experiment.title || me.experiment.id;
  document.title = `igym admin · ${me.experiment.title || me.experiment.id}`;
  document.getElementById("logout")?.addEventListener("click", () => api.logout());
  /** @type {Context} */
  const ctx = {
    me,
    get snapshot() {
      return state.snapshot;
    },
    now: () => state.snapshot?.now ?? Date.now() / 1000,
    go: (hash) => {
      window.location.hash = hash;
    },
  };
  window.addEventListener("hashchange", () => show(ctx));
  show(ctx);
  listen();
}

/** @param {Context} ctx */
function show(ctx) {
  state.view?.destroy?.();
  clearTimeout(state.refreshTimer);
  const hash = window.location.hash || "#/";
  const root = /** @type {HTMLElement} */ (document.getElementById("page"));
  root.replaceChildren();
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!found) {
    root.append(el("p", { text: "No such page. " }, [el("a", { href: "#/", text: "Back to the dashboard" })]));
    return;
  }
  const [pattern, nav, module] = found;
  const args = (hash.match(pattern) ?? []).slice(1).map(decodeURIComponent);
  state.page = module === dashboard ? "dashboard" : hash.split("/")[1] || "dashboard";
  document.body.dataset.page = state.page;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("current", /** @type {HTMLElement} */ (link).dataset.nav === nav);
  }
  state.view = module.render(root, ctx, args);
  if (state.snapshot) state.view.update?.(state.snapshot);
  state.lastRefresh = Date.now();
}

function listen() {
  const live = /** @type {HTMLElement} */ (document.getElementById("live"));
  const source = new EventSource("/admin/api/stream");
  source.addEventListener("summary", (event) => {
    state.snapshot = JSON.parse(/** @type {MessageEvent} */ (event).data);
    state.updates += 1;
    state.lastUpdate = Date.now();
    live.dataset.live = "live";
    live.textContent = `live · ${clock(state.snapshot.now)}`;
    state.view?.update?.(state.snapshot);
    scheduleRefresh();
  });
  source.addEventListener("logout", () => {
    source.close();
    window.location.assign("/admin/login");
  });
  source.addEventListener("error", () => {
    live.dataset.live = "lost";
    live.textContent = "reconnecting…";
  });
}

function scheduleRefresh() {
  const view = state.view;
  if (!view?.refresh || state.refreshTimer) return;
  const wait = Math.max(0, state.lastRefresh + REFRESH_MS - Date.now());
  state.refreshTimer = window.setTimeout(async () => {
    state.refreshTimer = 0;
    state.lastRefresh = Date.now();
    if (state.view === view) await view.refresh?.().catch((err) => console.warn("igym admin: refresh failed", err));
  }, wait);
}

// For tests and debugging.
window.igymAdmin = state;

main().catch((err) => {
  const root = document.getElementById("page");
  if (root && !(err instanceof api.ApiError && err.status === 401)) {
    root.replaceChildren(el("p", { className: "notice bad", text: `The console could not load: ${err.message ?? err}` }));
  }
});
