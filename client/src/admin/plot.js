// Small time-series plots (SVG) of telemetry: one line per participant. plotGeometry is DOM-free.

import { el } from "./dom.js";
import { num } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
export const COLORS = ["#2556c4", "#c4452c", "#1f7a3d", "#8a3fc4", "#b07800", "#0f8c8c"];

/**
 * Scale series of [t, v] points into a w x h box (y grows downward, 0 at the bottom when all
 * values are ≥ 0).
 * @param {Record<string, number[][]>} series by participant
 * @param {number} w @param {number} h @param {number} pad
 * @returns {{lines: {name: string, points: [number, number][]}[], tMin: number, tMax: number, vMin: number, vMax: number}}
 */
export function plotGeometry(series, w, h, pad = 4) {
  const all = Object.values(series).flat();
  const ts = all.map((p) => p[0]);
  const vs = all.map((p) => p[1]);
  const tMin = Math.min(...ts);
  const tMax = Math.max(...ts);
  let vMin = Math.min(0, ...vs);
  let vMax = Math.max(...vs);
  if (vMax === vMin) vMax = vMin + 1;
  const tSpan = tMax - tMin || 1;
  const x = (/** @type {number} */ t) => pad + ((t - tMin) / tSpan) * (w - 2 * pad);
  const y = (/** @type {number} */ v) => h - pad - ((v - vMin) / (vMax - vMin)) * (h - 2 * pad);
  const lines = Object.entries(series).map(([name, points]) => ({
    name,
    points: points.map(([t, v]) => /** @type {[number, number]} */ ([round(x(ts.length === 1 ? tMin + tSpan / 2 : t)), round(y(v))])),
  }));
  return { lines, tMin, tMax, vMin, vMax };
}

/** @param {number} v */
function round(v) {
  return Math.round(v * 10) / 10;
}

/**
 * @param {string} title e.g. "RTT (ms)"
 * @param {Record<string, number[][]>} series [t, v] points by participant
 * @returns {HTMLElement}
 */
export function renderPlot(title, series) {
  const w = 360;
  const h = 110;
  const names = Object.keys(series);
  const geometry = plotGeometry(series, w, h);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", title);
  geometry.lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    const poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("points", line.points.map((p) => p.join(",")).join(" "));
    poly.setAttribute("fill", "none");
    poly.setAttribute("stroke", color);
    poly.setAttribute("stroke-width", "1.5");
    svg.append(poly);
    for (const [cx, cy] of line.points.length <= 40 ? line.points : []) {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", String(cx));
      dot.setAttribute("cy", String(cy));
      dot.setAttribute("r", "2.5");
      dot.setAttribute("fill", color);
      svg.append(dot);
    }
  });
  const span = geometry.tMax - geometry.tMin;
  const points = Object.values(series).reduce((n, s) => n + s.length, 0);
  return el("figure", { className: "plot card", data: { metric: title, points: String(points) } }, [
    el("h2", { text: title }),
    svg,
    el("div", { className: "legend" }, [
      el("span", { text: `${num(geometry.vMin, 1)} – ${num(geometry.vMax, 1)}` }),
      el("span", { text: `over ${num(span, 0)} s` }),
      ...names.map((name, i) => {
        const key = el("span", { text: `■ ${name}` });
        key.style.color = COLORS[i % COLORS.length]; // CSSOM, which the CSP allows
        return key;
      }),
    ]),
  ]);
}

/** Metric names as plot titles. */
export const METRIC_TITLES = {
  rtt_ms: "P2P round trip (ms)",
  rollbacks: "Rollbacks per episode",
  stalls: "Stalls per episode",
  latency_p50_ms: "Input latency p50 (ms)",
  latency_p95_ms: "Input latency p95 (ms)",
  relayed: "Relayed packets per episode",
};

/**
 * Plots for every metric of a series map, known metrics first.
 * @param {Record<string, Record<string, number[][]>>} byMetric
 * @returns {HTMLElement}
 */
export function renderPlots(byMetric) {
  const known = Object.keys(METRIC_TITLES).filter((m) => byMetric[m]);
  const others = Object.keys(byMetric).filter((m) => !(m in METRIC_TITLES)).sort();
  const figures = [...known, ...others].map((m) => renderPlot(/** @type {any} */ (METRIC_TITLES)[m] ?? m, byMetric[m]));
  if (!figures.length) return el("p", { className: "muted", text: "No telemetry recorded yet." });
  return el("div", { className: "plots" }, figures);
}
