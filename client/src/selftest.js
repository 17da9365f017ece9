// The self-test page: boot Python in a module worker, show its version and the boot time, and
// measure that the main thread stayed responsive meanwhile. Results are also published on
// `window.igymSelftest` and `document.body.dataset.status` ("ok" | "error") for the e2e tests.

import { Heartbeat } from "./heartbeat.js";
import { PythonWorker } from "./worker/pyworker.js";

const ROUND_TRIPS = 200;

/** @param {string} id @param {string} text */
function show(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** @param {PythonWorker} py @returns {Promise<{median_us: number, p95_us: number}>} */
async function measureRoundTrips(py) {
  const samples = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) {
    const t0 = performance.now();
    await py.ping();
    samples.push((performance.now() - t0) * 1000);
  }
  return { median_us: Math.round(quantile(samples, 0.5)), p95_us: Math.round(quantile(samples, 0.95)) };
}

/**
 * Record main-thread tasks over 50 ms (the Long Tasks API); booting Python on the main thread
 * would show up here as one task of a second or more.
 * @returns {{longest: () => number | null}} the longest seen so far, null if the API is missing
 */
function watchLongTasks() {
  let longest = 0;
  if (!PerformanceObserver.supportedEntryTypes?.includes("longtask")) return { longest: () => null };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
  });
  observer.observe({ type: "longtask", buffered: true });
  return { longest: () => Math.round(longest) };
}

/**
 * A same-origin URL from the query string. `?indexURL=/some/path/` boots Pyodide from another
 * folder of this server (to test the failure path); `?packages=/packages/<digest>.zip` unpacks a
 * package bundle after boot. Other origins are refused: this page never runs code from elsewhere.
 * @param {string} name
 * @returns {string | undefined}
 */
function sameOriginParam(name) {
  const value = new URLSearchParams(window.location.search).get(name);
  if (!value) return undefined;
  const url = new URL(value, window.location.href);
  if (url.origin !== window.location.origin) throw new Error(`${name} must be on this server: ${value}`);
  return url.href;
}

async function main() {
  const result = /** @type {Record<string, unknown>} */ ({ status: "starting" });
  window.igymSelftest = result;
  show("isolated", String(window.crossOriginIsolated));
  result.cross_origin_isolated = window.crossOriginIsolated;
  result.visibility = document.visibilityState;

  const longTasks = watchLongTasks();
  const heartbeat = new Heartbeat(500).start();
  const fine = new Heartbeat(50).start();
  try {
    const py = new PythonWorker({ indexURL: sameOriginParam("indexURL") });
    window.igymPython = py; // for tests: run Python in the booted worker
    // Queued before READY on purpose: the worker handle must hold it until Python is up.
    const early = py.run("1 + 1");
    early.catch(() => {}); // a failed boot is reported once, below
    const ready = await py.ready;
    if ((await early) !== 2) throw new Error("a command queued before READY got a wrong answer");
    // One more beat after READY, so the heartbeat covers the whole boot.
    await new Promise((resolve) => setTimeout(resolve, 550));
    heartbeat.stop();
    fine.stop();
    Object.assign(result, {
      python_version: ready.python_version,
      pyodide_version: ready.pyodide_version,
      ready_ms: Math.round(ready.ready_ms),
      worker_boot_ms: Math.round(ready.boot_ms),
      worker_import_ms: Math.round(ready.import_ms),
      worker_load_ms: Math.round(ready.load_ms),
      heartbeat: heartbeat.summary(),
      heartbeat_50ms: fine.summary(),
      longest_main_thread_task_ms: longTasks.longest(),
    });
    show("python-version", ready.python_version);
    show("pyodide-version", ready.pyodide_version);
    show("ready-time", `${(ready.ready_ms / 1000).toFixed(2)} s (worker start → READY)`);
    const hb = heartbeat.summary();
    show(
      "heartbeat",
      `${hb.beats} beats, at most ${hb.max_late_ms} ms late (50 ms timer: ${fine.summary().max_late_ms} ms; ` +
        `longest main-thread task: ${result.longest_main_thread_task_ms ?? "n/a"} ms)`,
    );
    const packages = sameOriginParam("packages");
    if (packages) {
      result.unpacked = await py.unpack(packages);
      show("selftest-status", `Unpacked ${packages}`);
    }
    const rt = await measureRoundTrips(py);
    result.round_trip = rt;
    show("round-trip", `median ${rt.median_us} µs, p95 ${rt.p95_us} µs over ${ROUND_TRIPS} calls`);
    result.status = "ok";
    show("selftest-status", `OK — Python ${ready.python_version.split(" ")[0]} is running in a Web Worker.`);
  } catch (err) {
    heartbeat.stop();
    fine.stop();
    result.status = "error";
    result.error = err instanceof Error ? err.message : String(err);
    show(
      "selftest-status",
      `Python could not start: ${result.error}. If the server says the client is not built, ` +
        "run `make setup` there and reload this page.",
    );
    document.getElementById("selftest-status")?.classList.add("error");
  }
  document.body.dataset.status = String(result.status);
}

main();
