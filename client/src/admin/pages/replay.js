// Episode replay: the stored actions are played again with the same environment in Pyodide (the
// participant page's worker and packages zip), drawn with the game's renderer, and the replayed
// rewards are compared with the stored ones (igym_core.runtime.replay).
//
// For tests, window.igymAdmin.replay is the state: phase (loading | ready | playing | paused |
// ended | error), frame, frames, totals, differences, complete.

import { Renderer } from "/static/game/renderer.js";
import { loadAtlases } from "/static/game/atlas.js";
import { PythonWorker } from "/static/worker/pyworker.js";
import * as api from "../api.js";
import { card, el, facts, participantLink } from "../dom.js";
import { num, short } from "../format.js";
import { ReplayClock } from "../replay-clock.js";

const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

/** @param {HTMLElement} root @param {import("../app.js").Context} _ctx @param {string[]} args @returns {import("../app.js").PageView} */
export function render(root, _ctx, [participantId, sceneId, episodeText]) {
  const episode = Number(episodeText);
  const state = {
    phase: "loading",
    frame: 0,
    frames: 0,
    /** @type {Record<string, {stored: number, replayed: number}> | null} */ totals: null,
    /** @type {any[]} */ differences: [],
    complete: false,
    /** @type {string | null} */ error: null,
    replay_ms: 0,
  };
  window.igymAdmin.replay = state;
  const status = el("p", { className: "notice", text: "Loading the episode…", data: { replayStatus: "" } });
  const canvas = /** @type {HTMLCanvasElement} */ (el("canvas", { attrs: { width: "320", height: "200" } }));
  const play = el("button", { className: "primary", text: "Play", data: { action: "play" }, attrs: { disabled: "" } });
  const slider = /** @type {HTMLInputElement} */ (el("input", { attrs: { type: "range", min: "0", max: "0", value: "0", "aria-label": "Frame", disabled: "" } }));
  const speed = /** @type {HTMLSelectElement} */ (el("select", { attrs: { "aria-label": "Speed" } }, SPEEDS.map((s) => el("option", { text: `${s}×`, attrs: { value: String(s) } }))));
  speed.value = "1";
  const position = el("span", { className: "mono", text: "frame –" });
  const now = el("div");
  const info = el("div");
  const diffs = el("div");
  root.append(
    el("h1", {}, ["Replay ", participantLink(participantId), ` · ${sceneId} · episode ${episode}`]),
    status,
    el("div", { className: "replay" }, [
      el("div", {}, [el("div", { className: "replay-stage" }, [canvas]), el("div", { className: "replay-controls" }, [play, speed, slider, position])]),
      el("div", { className: "grid" }, [card("This frame", [now]), card("Episode", [info]), card("Differences from the store", [diffs])]),
    ]),
  );

  /** @type {PythonWorker | null} */
  let py = null;
  let raf = 0;
  let destroyed = false;
  /** @type {any} */
  let result = null;
  /** @type {Renderer | null} */
  let renderer = null;
  /** @type {ReplayClock | null} */
  let replayClock = null;
  let shown = -1;

  const setPhase = (/** @type {string} */ phase) => {
    state.phase = phase;
    root.dataset.replay = phase;
    play.textContent = phase === "playing" ? "Pause" : phase === "ended" ? "Play again" : "Play";
  };
  setPhase("loading");

  const draw = () => {
    if (!replayClock || !renderer) return;
    const i = replayClock.frame();
    if (i !== shown) {
      shown = i;
      const frame = result.frames[i];
      renderer.draw(frame.render);
      state.frame = frame.frame;
      slider.value = String(i);
      position.textContent = `frame ${frame.frame + 1} / ${result.frames.length}`;
      now.replaceChildren(frameFacts(frame));
    }
    if (replayClock.playing) raf = requestAnimationFrame(draw);
    else setPhase(replayClock.ended ? "ended" : "paused");
  };

  play.addEventListener("click", () => {
    if (!replayClock) return;
    if (replayClock.playing) replayClock.pause();
    else {
      replayClock.play();
      setPhase("playing");
    }
    cancelAnimationFrame(raf);
    raf = requestAnimationFrame(draw);
  });
  speed.addEventListener("change", () => replayClock?.setSpeed(Number(speed.value)));
  slider.addEventListener("input", () => {
    if (!replayClock) return;
    replayClock.seek(Number(slider.value));
    cancelAnimationFrame(raf);
    raf = requestAnimationFrame(draw);
  });

  (async () => {
    const data = await api.get(`replay/${encodeURIComponent(participantId)}/${encodeURIComponent(sceneId)}/${episode}`);
    const { scene, frames } = data;
    info.replaceChildren(
      facts([
        ["Environment", scene.env.name],
        ["Seed", data.episode.seed],
        ["Stored status", data.episode.status],
        ["Stored frames", frames.length],
        ["Stored score", num(data.episode.score, 1)],
      ]),
    );
    status.textContent = "Starting Python and the environment…";
    py = new PythonWorker({ onOutput: () => {} });
    const [atlases] = await Promise.all([loadAtlases(scene.env.assets ?? {}), py.ready]);
    if (destroyed) return;
    await py.unpack(scene.env.packages_url);
    status.textContent = `Replaying ${frames.length} frames…`;
    result = await py.call({ cmd: "replay", scene, seed: data.episode.seed, frames });
    if (destroyed) return;
    py.terminate();
    py = null;
    state.frames = result.frames.length;
    state.totals = result.totals;
    state.differences = result.differences;
    state.complete = result.complete;
    state.replay_ms = result.ms;
    renderer = new Renderer(canvas, atlases, { maxWidth: 700, maxHeight: 460 });
    renderer.draw(result.first);
    diffs.replaceChildren(differenceView(result));
    info.append(facts(Object.entries(result.totals).map(([agent, t]) => [`Total reward ${agent}`, `${num(/** @type {any} */ (t).replayed, 2)} replayed · ${num(/** @type {any} */ (t).stored, 2)} stored`])));
    const rewardDiffs = result.differences.filter((/** @type {any} */ d) => d.field === "reward").length;
    status.className = `notice ${result.differences.length ? "bad" : "ok"}`;
    status.textContent = result.differences.length
      ? `Replayed ${result.frames.length} of ${frames.length} frames: ${result.differences.length} differences from the store (${rewardDiffs} in rewards).`
      : `Replayed ${result.frames.length} of ${frames.length} frames in ${num(result.ms, 0)} ms: every reward and end flag matches the store.`;
    status.dataset.replayStatus = result.differences.length ? "differs" : "matches";
    if (!result.frames.length) {
      setPhase("ended");
      return;
    }
    replayClock = new ReplayClock(result.frames.length, Number(scene.fps) || 30);
    slider.max = String(result.frames.length - 1);
    slider.removeAttribute("disabled");
    play.removeAttribute("disabled");
    setPhase("ready");
    raf = requestAnimationFrame(draw);
  })().catch((err) => {
    state.error = String(err?.message ?? err);
    setPhase("error");
    status.className = "notice bad";
    status.textContent = `The episode could not be replayed: ${state.error}`;
  });

  return {
    destroy: () => {
      destroyed = true;
      cancelAnimationFrame(raf);
      py?.terminate();
    },
  };
}

/** @param {any} frame */
function frameFacts(frame) {
  return el(
    "table",
    {},
    [el("thead", {}, [el("tr", {}, ["Agent", "Replayed reward", "Stored reward"].map((h) => el("th", { text: h })))]),
      el("tbody", {}, Object.entries(frame.rewards).map(([agent, r]) => el("tr", {}, [el("td", { text: agent }), el("td", { className: "num", text: num(/** @type {number} */ (r), 2) }), el("td", { className: "num", text: num(frame.stored_rewards[agent], 2) })])))],
  );
}

/** @param {any} result */
function differenceView(result) {
  if (!result.differences.length) return el("p", { className: "muted", text: "None." });
  return el("div", { className: "scroll" }, [
    el("table", { data: { table: "differences" } }, [
      el("thead", {}, [el("tr", {}, ["Frame", "Field", "Stored", "Replayed"].map((h) => el("th", { text: h })))]),
      el(
        "tbody",
        {},
        result.differences.slice(0, 200).map((/** @type {any} */ d) =>
          el("tr", {}, [el("td", { className: "num", text: d.frame }), el("td", { text: d.agent ? `${d.field} ${d.agent}` : d.field }), el("td", { text: short(d.stored, 60) }), el("td", { text: short(d.replayed, 60) })]),
        ),
      ),
    ]),
  ]);
}
