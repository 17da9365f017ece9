// Small statistics for telemetry: quantiles of samples, rounded for the record.

/**
 * The q-quantile of xs (nearest rank), or null when there are no samples.
 * @param {number[]} xs
 * @param {number} q in 0..1
 * @returns {number | null}
 */
export function quantile(xs, q) {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/**
 * @param {number | null} x
 * @param {number} [digits] decimals to keep
 * @returns {number | null}
 */
export function round(x, digits = 2) {
  if (x === null || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * p50 / p95 / max of some samples, as `{<name>_p50_ms, <name>_p95_ms, <name>_max_ms}`.
 * @param {string} name
 * @param {number[]} xs
 * @returns {Record<string, number | null>}
 */
export function percentiles(name, xs) {
  return {
    [`${name}_p50_ms`]: round(quantile(xs, 0.5)),
    [`${name}_p95_ms`]: round(quantile(xs, 0.95)),
    [`${name}_max_ms`]: round(xs.length ? Math.max(...xs) : null),
  };
}
