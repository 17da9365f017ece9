// Formatting for the admin page (DOM-free, tested with node).

/** @param {number | null | undefined} t seconds since the epoch @returns {string} local time */
export function clock(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return "–";
  const d = new Date(t * 1000);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** @param {number | null | undefined} t @returns {string} date and time */
export function dateTime(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return "–";
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")} ${clock(t)}`;
}

/**
 * @param {number | null | undefined} t when @param {number} now seconds since the epoch
 * @returns {string} e.g. "now", "12 s ago", "3 min ago"
 */
export function ago(t, now) {
  if (t === null || t === undefined || !Number.isFinite(t)) return "–";
  const s = Math.max(0, now - t);
  if (s < 2) return "now";
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

/** @param {number | null | undefined} s seconds @returns {string} */
export function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return m < 60 ? `${m} min ${rest} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** @param {number | null | undefined} x @param {number} [digits] @returns {string} */
export function num(x, digits = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}

/** @param {number | null | undefined} x a share in 0..1 @returns {string} */
export function pct(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)} %`;
}

/**
 * A value as short text: JSON for objects, cut to `max` characters.
 * @param {unknown} value @param {number} [max]
 */
export function short(value, max = 160) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
