// The matchmakers' assignment log: every match made (with waits and RTTs), probe and end.

import * as api from "../api.js";
import { badge, el, matchLink, participantLink } from "../dom.js";
import { clock, duration, num, short } from "../format.js";

/** @param {HTMLElement} root @returns {import("../app.js").PageView} */
export function render(root) {
  const info = el("p", { className: "muted" });
  const body = el("tbody");
  root.append(
    el("h1", { text: "Assignment log" }),
    info,
    el("div", { className: "card scroll" }, [
      el("table", { data: { table: "assignments" } }, [el("thead", {}, [el("tr", {}, ["Time", "Match", "Scene", "Record", "Details"].map((h) => el("th", { text: h })))]), body]),
    ]),
  );
  const refresh = async () => {
    const log = await api.get("assignments?limit=500");
    info.textContent = `${log.total} records, newest first${log.total > log.records.length ? ` (newest ${log.records.length} shown)` : ""}${log.bad_lines ? `; ${log.bad_lines} unreadable lines` : ""}.`;
    body.replaceChildren(...log.records.map(row));
  };
  refresh();
  return { refresh };
}

/** @param {any} r */
function row(r) {
  let kind;
  let details;
  if (r.participants) {
    kind = badge(`assigned (${r.matchmaker})`, "ok");
    details = el(
      "div",
      {},
      r.participants.map((/** @type {any} */ p) =>
        el("div", {}, [participantLink(p.participant_id), ` ${(p.agents ?? []).join(",")} · waited ${duration(p.waited_s)} · server RTT ${num(p.server_rtt_ms, 1)} ms · P2P RTTs ${short(p.p2p_rtt_ms ?? {}, 120)}`]),
      ),
    );
  } else if (r.probe) {
    kind = badge(r.accepted ? "probe passed" : "probe failed", r.accepted ? "ok" : "bad");
    details = el("pre", { text: short(r.probe, 300) });
  } else {
    kind = badge(`ended: ${r.ended ?? "?"}`);
    details = el("pre", { text: short(r.relayed ?? {}, 300) });
  }
  return el("tr", {}, [el("td", { className: "mono", text: clock(r.at) }), el("td", {}, [matchLink(String(r.match_id))]), el("td", { text: r.scene_id }), el("td", {}, [kind]), el("td", {}, [details])]);
}
