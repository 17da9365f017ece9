// Every match with its P2P health. Refreshed while live.

import * as api from "../api.js";
import { badge, el, matchLink, participantLink } from "../dom.js";
import { ago, num, pct } from "../format.js";
import { LiveTable } from "../table.js";

/** @param {Record<string, number>} parity */
export function parityBadges(parity) {
  const entries = Object.entries(parity);
  if (!entries.length) return el("span", { className: "muted", text: "–" });
  return el("span", {}, entries.map(([status, n]) => badge(`${status} ×${n}`, status === "mismatch" ? "bad" : "ok")));
}

/** @param {HTMLElement} root @param {import("../app.js").Context} ctx @returns {import("../app.js").PageView} */
export function render(root, ctx) {
  /** @type {LiveTable<any>} */
  const table = new LiveTable(
    [
      { key: "match_id", label: "Match", cell: (m) => matchLink(m.match_id) },
      { key: "scene_id", label: "Scene" },
      { key: "members", label: "Members", value: (m) => m.members.join(" "), cell: (m) => el("span", {}, m.members.flatMap((/** @type {string} */ p, /** @type {number} */ i) => [i ? ", " : "", participantLink(p)])) },
      { key: "status", label: "Status", cell: (m) => el("span", { text: m.end_reason ? `${m.status} (${m.end_reason})` : m.status }) },
      { key: "created_at", label: "Created", num: true, cell: (m) => ago(m.created_at, ctx.now()) },
      { key: "rtt_p50", label: "RTT p50", num: true, value: (m) => m.health.rtt_p50_ms, cell: (m) => num(m.health.rtt_p50_ms, 1) },
      { key: "rtt_p95", label: "RTT p95", num: true, value: (m) => m.health.rtt_p95_ms, cell: (m) => num(m.health.rtt_p95_ms, 1) },
      { key: "rollbacks", label: "Rollbacks/min", num: true, value: (m) => m.health.rollbacks_per_min, cell: (m) => num(m.health.rollbacks_per_min, 1) },
      { key: "stalls", label: "Stalls", num: true, value: (m) => m.health.stalls },
      { key: "relayed", label: "Relayed", num: true, value: (m) => m.health.relayed_share, cell: (m) => pct(m.health.relayed_share) },
      { key: "disconnections", label: "Disconn.", num: true, value: (m) => m.health.disconnections },
      { key: "parity", label: "Parity", value: (m) => (m.health.parity.mismatch ? 0 : 1), search: (m) => Object.keys(m.health.parity).join(" "), cell: (m) => parityBadges(m.health.parity) },
    ],
    { sort: "created_at", direction: "desc", empty: "No matches yet.", name: "matches" },
  );
  const search = el("input", { attrs: { type: "search", placeholder: "Filter: match, participant, status, parity…", "aria-label": "Filter" } });
  search.addEventListener("input", () => table.filter(/** @type {HTMLInputElement} */ (search).value));
  root.append(
    el("h1", { text: "Matches" }),
    el("div", { className: "toolbar" }, [search, table.count, el("span", { className: "muted", text: "RTT in ms; relayed: packets sent through the server ÷ packets sent." })]),
    el("div", { className: "card" }, [table.element]),
  );
  const refresh = async () => table.update((await api.get("matches")).matches);
  refresh();
  return { refresh };
}
