// One participant: where they are, their answers, episodes (with replay), problems, exclusions,
// telemetry plots, matches and the event timeline; end their game session or exclude them.

import * as api from "../api.js";
import { card, el, facts, matchLink } from "../dom.js";
import { ago, dateTime, duration, short } from "../format.js";
import { renderPlots } from "../plot.js";
import { episodeTable, problemList, timeline } from "./common.js";
import { flagBadges } from "./participants.js";

/** @param {HTMLElement} root @param {import("../app.js").Context} ctx @param {string[]} args @returns {import("../app.js").PageView} */
export function render(root, ctx, [participantId]) {
  const body = el("div", { className: "grid" }, [el("p", { className: "muted", text: "Loading…" })]);
  root.append(el("h1", {}, ["Participant ", el("span", { className: "mono", text: participantId })]), body);
  const refresh = async () => {
    try {
      const p = await api.get(`participants/${encodeURIComponent(participantId)}`);
      body.replaceChildren(...draw(p, ctx, refresh));
    } catch (err) {
      body.replaceChildren(el("p", { className: "notice bad", text: String(/** @type {Error} */ (err).message) }));
    }
  };
  refresh();
  return { refresh };
}

/** @param {any} p @param {import("../app.js").Context} ctx @param {() => Promise<void>} refresh */
function draw(p, ctx, refresh) {
  const header = card("", [
    el("div", { className: "grid cols-2" }, [
      facts([
        ["State", el("span", { className: `state-${p.state}`, text: p.online ? `${p.state} · online` : p.state, data: { state: p.state } })],
        ["Stored status", p.status],
        ["Scene", `${p.scene_index + 1}. ${p.scene_id}`],
        ["Platform ids", el("span", { className: "mono", text: Object.entries(p.platform).map(([k, v]) => `${k}=${v}`).join("  ") || "–" })],
        ["URL parameters", el("pre", { text: short(p.params, 500) })],
        ["Started", dateTime(p.created_at)],
        ["Last seen", ago(p.last_seen, ctx.now())],
        ["Flags", flagBadges(p.flags)],
        ["Game sessions", p.game_sessions.length ? p.game_sessions.map((/** @type {any} */ s) => `${s.scene_id}: ${s.phase}`).join(", ") : "none"],
      ]),
      actions(p, refresh),
    ]),
  ]);
  const scenes = card("Scenes and answers", [
    el("table", { data: { table: "answers" } }, [
      el("thead", {}, [el("tr", {}, ["Scene", "Started", "Time", "Answers"].map((h) => el("th", { text: h })))]),
      el(
        "tbody",
        {},
        p.scenes.map((/** @type {any} */ s) =>
          el("tr", {}, [
            el("td", { text: `${s.scene_index + 1}. ${s.scene_id}` }),
            el("td", { text: dateTime(s.started_at) }),
            el("td", { className: "num", text: duration(s.duration_s) }),
            el("td", {}, [
              el(
                "dl",
                { className: "facts" },
                Object.entries(s.responses).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: typeof v === "string" ? v : JSON.stringify(v) })]),
              ),
            ]),
          ]),
        ),
      ),
    ]),
  ]);
  const exclusions = card("Exclusions", [
    p.exclusions.length ? el("pre", { text: p.exclusions.map((/** @type {any} */ x) => short(x, 300)).join("\n") }) : el("p", { className: "muted", text: "Not excluded." }),
  ]);
  const matches = card("Matches", [
    p.matches.length
      ? el("ul", {}, p.matches.map((/** @type {any} */ m) => el("li", {}, [matchLink(m.match_id), ` ${m.scene_id} · ${m.status}${m.end_reason ? ` (${m.end_reason})` : ""}`])))
      : el("p", { className: "muted", text: "None." }),
  ]);
  return [
    header,
    card("Telemetry", [renderPlots(p.series)]),
    card("Episodes", [episodeTable(p.episodes, false)]),
    el("div", { className: "grid cols-2" }, [scenes, el("div", { className: "grid" }, [card("Browser errors and problems", [problemList(p.problems)]), exclusions, matches])]),
    timeline(p.timeline, p.timeline_total, false),
  ];
}

/** @param {any} p @param {() => Promise<void>} refresh */
function actions(p, refresh) {
  const status = el("p", { className: "muted", data: { actionStatus: "" } });
  const reason = el("input", { attrs: { type: "text", placeholder: "Reason (stored with the action)", maxlength: "500", "aria-label": "Reason" } });
  const run = async (/** @type {string} */ path, /** @type {string} */ done) => {
    try {
      await api.post(`participants/${encodeURIComponent(p.participant_id)}/${path}`, { reason: /** @type {HTMLInputElement} */ (reason).value });
      status.className = "notice ok";
      status.textContent = done;
      await refresh();
    } catch (err) {
      status.className = "notice bad";
      status.textContent = String(/** @type {Error} */ (err).message);
    }
  };
  const end = el("button", { text: "End game session", data: { action: "end" }, on: { click: () => run("end", "The game session was ended.") } });
  if (!p.game_sessions.some((/** @type {any} */ s) => s.phase !== "ended")) end.setAttribute("disabled", "");
  const exclude = el("button", {
    className: "danger",
    text: "Exclude",
    data: { action: "exclude" },
    on: {
      click: () => {
        if (!/** @type {HTMLInputElement} */ (reason).value.trim()) {
          status.className = "notice bad";
          status.textContent = "Give a reason to exclude a participant.";
          return;
        }
        if (window.confirm(`Exclude ${p.participant_id}? Their game ends and they cannot continue.`)) run("exclude", "The participant was excluded.");
      },
    },
  });
  if (p.status === "excluded") exclude.setAttribute("disabled", "");
  return el("div", {}, [el("h2", { text: "Actions" }), reason, el("div", { className: "actions" }, [end, exclude]), status]);
}
