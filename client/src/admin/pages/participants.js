// Every participant: filter by text or state, sort by any column. Refreshed while live.

import * as api from "../api.js";
import { badge, el, participantLink } from "../dom.js";
import { ago } from "../format.js";
import { LiveTable } from "../table.js";

const STATES = ["", "active", "waiting", "playing", "completed", "excluded", "dropped"];
const BAD_FLAGS = new Set(["browser_error", "desync", "p2p_failed", "disconnected", "excluded", "server_error", "rule_error"]);

/** @param {Record<string, number>} flags */
export function flagBadges(flags) {
  return el(
    "span",
    {},
    Object.entries(flags).map(([flag, n]) => badge(n > 1 ? `${flag} ×${n}` : flag, BAD_FLAGS.has(flag) ? "bad" : "warn")),
  );
}

/** @param {HTMLElement} root @param {import("../app.js").Context} ctx @returns {import("../app.js").PageView} */
export function render(root, ctx) {
  /** @type {LiveTable<any>} */
  const table = new LiveTable(
    [
      { key: "participant_id", label: "Participant", cell: (p) => participantLink(p.participant_id) },
      { key: "platform", label: "Platform ids", value: (p) => Object.values(p.platform).join(" "), cell: (p) => el("span", { className: "mono", text: Object.entries(p.platform).map(([k, v]) => `${k}=${v}`).join(" ") }) },
      { key: "scene_index", label: "Scene", cell: (p) => `${p.scene_index + 1}. ${p.scene_id}`, search: (p) => p.scene_id },
      { key: "state", label: "State", cell: (p) => el("span", { className: `state-${p.state}`, text: p.online ? `${p.state} · online` : p.state }) },
      { key: "last_seen", label: "Last seen", num: true, cell: (p) => ago(p.last_seen, ctx.now()) },
      { key: "created_at", label: "Started", num: true, cell: (p) => ago(p.created_at, ctx.now()) },
      { key: "flags", label: "Flags", value: (p) => Object.keys(p.flags).length || null, search: (p) => Object.keys(p.flags).join(" "), cell: (p) => flagBadges(p.flags) },
    ],
    { sort: "created_at", direction: "desc", empty: "No participants yet.", name: "participants" },
  );
  const search = el("input", { attrs: { type: "search", placeholder: "Filter: id, platform id, scene, flag…", "aria-label": "Filter" } });
  search.addEventListener("input", () => table.filter(/** @type {HTMLInputElement} */ (search).value));
  const state = el("select", { attrs: { "aria-label": "State" } }, STATES.map((s) => el("option", { text: s || "every state", attrs: { value: s } })));
  state.addEventListener("change", () => {
    const wanted = /** @type {HTMLSelectElement} */ (state).value;
    table.where = (p) => !wanted || p.state === wanted;
    table.render();
  });
  root.append(el("h1", { text: "Participants" }), el("div", { className: "toolbar" }, [search, state, table.count]), el("div", { className: "card" }, [table.element]));
  const refresh = async () => table.update((await api.get("participants")).participants);
  refresh();
  return { refresh };
}
