// The dashboard: counts, scenes, the waiting room, matches and parity, exclusions, problems.
// Redrawn from every live update (no request of its own).

import { badge, card, el, matchLink, participantLink } from "../dom.js";
import { ago, clock, duration, num, pct } from "../format.js";

const TILES = [
  ["total", "Participants"],
  ["active", "Active"],
  ["waiting", "Waiting"],
  ["playing", "Playing"],
  ["completed", "Completed"],
  ["excluded", "Excluded"],
  ["dropped", "Dropped"],
];

/** @param {HTMLElement} root @returns {import("../app.js").PageView} */
export function render(root) {
  root.append(el("h1", { text: "Dashboard" }));
  const body = el("div", { className: "dashboard" }, [el("p", { className: "muted", text: "Waiting for the first live update…" })]);
  root.append(body);
  return { update: (snapshot) => body.replaceChildren(...draw(snapshot)) };
}

/** @param {any} s the dashboard snapshot @returns {HTMLElement[]} */
function draw(s) {
  const tiles = el("div", { className: "tiles" }, [
    ...TILES.map(([key, label]) =>
      el("div", { className: `tile${key === "dropped" || key === "excluded" ? (s.counts[key] ? " bad" : "") : ""}`, data: { count: key } }, [
        el("span", { className: "value", text: s.counts[key] }),
        el("span", { className: "label", text: label }),
      ]),
    ),
    el("div", { className: "tile ok", data: { count: "completion_rate" } }, [
      el("span", { className: "value", text: pct(s.completion_rate) }),
      el("span", { className: "label", text: "Completion (completed ÷ started)" }),
    ]),
  ]);
  const study = s.study.open && !s.study.full
    ? null
    : el("p", { className: "notice bad", data: { study: "closed" } }, [
        s.study.open ? `The study is full (${s.study.participants} of ${s.study.cap}). ` : "The study is closed to new participants. ",
        el("a", { href: "#/study", text: "Study controls" }),
      ]);
  return [study, tiles, el("div", { className: "grid cols-2" }, [left(s), right(s)])].filter(Boolean);
}

/** @param {any} s */
function left(s) {
  const rows = s.scenes.map((/** @type {any} */ sc) =>
    el("tr", {}, [
      el("td", { text: `${sc.index + 1}. ${sc.id}` }),
      el("td", { text: sc.kind, className: "muted" }),
      el("td", { className: "num", text: sc.here_now }),
      el("td", { className: "num", text: sc.reached }),
      el("td", { className: "num", text: sc.finished }),
      el("td", { className: "num", text: duration(sc.median_s) }),
      el("td", { className: "num", text: duration(sc.p90_s) }),
    ]),
  );
  const scenes = card("Scenes", [
    el("table", { data: { table: "scenes" } }, [
      el("thead", {}, [el("tr", {}, ["Scene", "Kind", "Here now", "Reached", "Finished", "Median time", "p90 time"].map((h, i) => el("th", { text: h, className: i > 1 ? "num" : "" })))]),
      el("tbody", {}, rows),
    ]),
  ]);
  const waiting = s.waiting_room.length
    ? card("Waiting room", [
        el("table", {}, [
          el("thead", {}, [el("tr", {}, ["Scene", "Waiting", "Longest now", "Matched", "Wait median", "Wait p90", "Wait max", "Timed out"].map((h, i) => el("th", { text: h, className: i ? "num" : "" })))]),
          el(
            "tbody",
            {},
            s.waiting_room.map((/** @type {any} */ w) =>
              el("tr", {}, [
                el("td", { text: w.scene_id }),
                el("td", { className: "num", text: w.waiting_now, data: { waiting: w.scene_id } }),
                el("td", { className: "num", text: duration(w.longest_now_s) }),
                el("td", { className: "num", text: w.assigned }),
                el("td", { className: "num", text: duration(w.wait_median_s) }),
                el("td", { className: "num", text: duration(w.wait_p90_s) }),
                el("td", { className: "num", text: duration(w.wait_max_s) }),
                el("td", { className: "num", text: w.timeouts }),
              ]),
            ),
          ),
        ]),
      ])
    : null;
  const exclusions = Object.entries(s.exclusions.by_rule);
  return el("div", { className: "grid" }, [
    scenes,
    waiting,
    card("Exclusions by rule", [
      exclusions.length
        ? el("table", {}, [el("tbody", {}, exclusions.map(([rule, n]) => el("tr", {}, [el("td", { text: rule }), el("td", { className: "num", text: n })])))])
        : el("p", { className: "muted", text: "Nobody has been excluded." }),
    ]),
  ]);
}

/** @param {any} s */
function right(s) {
  const parity = s.parity ?? {};
  const matches = card("Matches and parity", [
    el("div", { className: "tiles cols-3", data: { block: "matches" } }, [
      tile("Running", s.matches.running, "running"),
      tile("Finished", s.matches.finished, "finished"),
      tile("Re-queued", s.matches.requeued, "requeued"),
      tile("Identical", (parity.identical ?? 0) + (parity.identical_partial ?? 0), "identical", "ok"),
      tile("Mismatch", parity.mismatch ?? 0, "mismatch", parity.mismatch ? "bad" : ""),
    ]),
  ]);
  const problems = card(`Needs attention (${s.problem_count})`, [
    s.problems.length
      ? el(
          "ul",
          { className: "problems", data: { list: "problems" } },
          s.problems.map((/** @type {any} */ p) =>
            el("li", { data: { problem: p.kind } }, [
              el("span", { className: "muted", text: `${clock(p.last_at)} ` }),
              badge(p.label, "bad"),
              p.count > 1 ? badge(`×${p.count}`) : null,
              p.participant_id ? participantLink(p.participant_id) : null,
              p.match_id ? matchLink(p.match_id) : null,
              el("div", { className: "muted", text: p.message }),
            ]),
          ),
        )
      : el("p", { className: "muted", text: "No problems so far." }),
  ]);
  const actions = card("Recent admin actions", [
    s.admin_actions.length
      ? el(
          "ul",
          { className: "problems" },
          s.admin_actions.map((/** @type {any} */ a) =>
            el("li", {}, [el("span", { className: "muted", text: `${ago(a.at, s.now)} ` }), a.action, a.participant_id ? " " : null, a.participant_id ? participantLink(a.participant_id) : null]),
          ),
        )
      : el("p", { className: "muted", text: "None." }),
  ]);
  return el("div", { className: "grid" }, [matches, problems, actions, el("p", { className: "muted", text: `Dropped: offline more than ${num(s.dropped_after_s / 60, 0)} min without finishing.` })]);
}

/** @param {string} label @param {number} value @param {string} key @param {string} [kind] */
function tile(label, value, key, kind = "") {
  return el("div", { className: `tile ${kind}`.trim(), data: { count: `matches_${key}` } }, [el("span", { className: "value", text: value }), el("span", { className: "label", text: label })]);
}
