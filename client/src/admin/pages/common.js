// Pieces both detail pages show: episodes, the event timeline, problems.

import { badge, card, el, participantLink } from "../dom.js";
import { clock, num, short } from "../format.js";

/**
 * @param {any[]} episodes rows from the server (participant_id, scene_id, episode, status, ...)
 * @param {boolean} withParticipant
 */
export function episodeTable(episodes, withParticipant) {
  if (!episodes.length) return el("p", { className: "muted", text: "No episodes." });
  const head = [withParticipant ? "Participant" : null, "Scene", "Episode", "Status", "Reason", "Frames", "Unfocused", "Score", "Latency p50/p95 ms", "Seed", ""].filter((h) => h !== null);
  return el("div", { className: "scroll" }, [
    el("table", { data: { table: "episodes" } }, [
      el("thead", {}, [el("tr", {}, head.map((h) => el("th", { text: h })))]),
      el(
        "tbody",
        {},
        episodes.map((e) =>
          el("tr", { data: { episode: `${e.participant_id}/${e.scene_id}/${e.episode}` } }, [
            withParticipant ? el("td", {}, [participantLink(e.participant_id)]) : null,
            el("td", { text: e.scene_id }),
            el("td", { className: "num", text: e.episode }),
            el("td", {}, [badge(e.status, e.status === "complete" ? "ok" : e.status === "partial" ? "warn" : "")]),
            el("td", { text: e.reason ?? "" }),
            el("td", { className: "num", text: e.frames }),
            el("td", { className: "num", text: e.summary.frames_unfocused ?? "–" }),
            el("td", { className: "num", text: num(e.score, 1) }),
            el("td", { className: "num", text: `${num(e.summary.latency_p50_ms, 1)} / ${num(e.summary.latency_p95_ms, 1)}` }),
            el("td", { className: "num mono", text: e.seed }),
            el("td", {}, [
              e.frames
                ? el("a", { href: `#/replay/${encodeURIComponent(e.participant_id)}/${encodeURIComponent(e.scene_id)}/${e.episode}`, text: "Replay", data: { replay: `${e.participant_id}/${e.scene_id}/${e.episode}` } })
                : null,
            ]),
          ]),
        ),
      ),
    ]),
  ]);
}

/** @param {any[]} events @param {number} total @param {boolean} withParticipant */
export function timeline(events, total, withParticipant) {
  const rows = events
    .slice()
    .reverse()
    .map((e) =>
      el("tr", { data: { kind: e.kind } }, [
        el("td", { className: "mono", text: clock(e.at) }),
        withParticipant ? el("td", {}, [participantLink(e.participant_id)]) : null,
        el("td", {}, [e.problem ? badge(e.kind, "bad") : e.kind.startsWith("admin:") ? badge(e.kind, "warn") : el("span", { className: "mono", text: e.kind })]),
        el("td", {}, [el("pre", { text: short(e.data, 400) })]),
      ]),
    );
  return card(`Timeline (${total} events${total > events.length ? `, newest ${events.length} shown` : ""})`, [
    el("div", { className: "scroll" }, [el("table", { data: { table: "timeline" } }, [el("tbody", {}, rows)])]),
  ]);
}

/** @param {any[]} problems timeline items that are problems */
export function problemList(problems) {
  if (!problems.length) return el("p", { className: "muted", text: "No browser errors or other problems." });
  return el(
    "ul",
    { className: "problems", data: { list: "errors" } },
    problems.map((p) => el("li", {}, [el("span", { className: "muted", text: `${clock(p.at)} ` }), badge(p.problem, "bad"), el("pre", { text: short(p.data, 600) })])),
  );
}
