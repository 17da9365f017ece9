// One match: members, P2P health, telemetry plots, parity per episode, everyone's episodes
// (with replay), the assignment log's records of it, and the members' events during it.

import * as api from "../api.js";
import { badge, card, el, facts, participantLink } from "../dom.js";
import { dateTime, num, pct, short } from "../format.js";
import { renderPlots } from "../plot.js";
import { episodeTable, timeline } from "./common.js";
import { parityBadges } from "./matches.js";

/** @param {HTMLElement} root @param {import("../app.js").Context} ctx @param {string[]} args @returns {import("../app.js").PageView} */
export function render(root, ctx, [matchId]) {
  const body = el("div", { className: "grid" }, [el("p", { className: "muted", text: "Loading…" })]);
  root.append(el("h1", {}, ["Match ", el("span", { className: "mono", text: matchId })]), body);
  const refresh = async () => {
    try {
      body.replaceChildren(...draw(await api.get(`matches/${encodeURIComponent(matchId)}`)));
    } catch (err) {
      body.replaceChildren(el("p", { className: "notice bad", text: String(/** @type {Error} */ (err).message) }));
    }
  };
  refresh();
  return { refresh };
}

/** @param {any} m */
function draw(m) {
  const h = m.health;
  const header = card("", [
    el("div", { className: "grid cols-2" }, [
      facts([
        ["Scene", m.scene_id],
        ["Status", m.end_reason ? `${m.status} (${m.end_reason})` : m.status],
        ["Matchmaker", m.matchmaker],
        ["Created", dateTime(m.created_at)],
        ["Updated", dateTime(m.updated_at)],
        ["Members", el("span", {}, m.members.flatMap((/** @type {any} */ p, /** @type {number} */ i) => [i ? ", " : "", participantLink(p.participant_id), ` (${p.state}${p.online ? ", online" : ""})`]))],
      ]),
      facts([
        ["RTT p50 / p95", `${num(h.rtt_p50_ms, 1)} / ${num(h.rtt_p95_ms, 1)} ms (${h.rtt_samples} samples)`],
        ["Rollbacks per minute", num(h.rollbacks_per_min, 1)],
        ["Stalls", h.stalls],
        ["Relayed share", pct(h.relayed_share)],
        ["Disconnections", h.disconnections],
        ["Parity", parityBadges(h.parity)],
      ]),
    ]),
  ]);
  const parity = card("Parity per episode", [
    m.parity.length
      ? el("table", { data: { table: "parity" } }, [
          el("tbody", {}, m.parity.map((/** @type {any} */ p) => el("tr", {}, [el("td", { text: `episode ${p.episode}` }), el("td", {}, [badge(p.status, p.status === "mismatch" ? "bad" : "ok")]), el("td", {}, [el("pre", { text: p.first_difference ? short(p.first_difference, 300) : "" })])]))),
        ])
      : el("p", { className: "muted", text: "No episode compared yet." }),
  ]);
  const log = card("Assignment log", [
    m.assignment_log.length ? el("pre", { text: m.assignment_log.map((/** @type {any} */ r) => short(r, 600)).join("\n") }) : el("p", { className: "muted", text: "No records." }),
  ]);
  return [
    header,
    card("Telemetry", [renderPlots(m.series)]),
    el("div", { className: "grid cols-2" }, [parity, log]),
    card("Episodes", [episodeTable(m.episodes, true)]),
    timeline(m.timeline, m.timeline.length, true),
  ];
}
