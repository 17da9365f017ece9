// Module Web Worker that boots Pyodide from the igym server and runs Python commands.
// The seed of the game runtime: the game loop and its clock will run here, off the main thread.
//
// Started by PythonWorker (pyworker.js) as `new Worker(url, {type: "module"})`. The Pyodide
// location comes from the `indexURL` query parameter of this script's URL; by default it is the
// same-origin `../pyodide/` folder next to this file. It is always passed to loadPyodide, which
// otherwise falls back to a CDN.

import { BOOT_ERROR, ERROR, READY, RESULT } from "./protocol.js";

const startedAt = performance.now();
const params = new URL(self.location.href).searchParams;
const indexURL = new URL(params.get("indexURL") ?? "../pyodide/", self.location.href).href;

/** Commands that arrive before Python is ready wait here, in order. */
let chain = boot();

self.addEventListener("message", (event) => {
  const command = event.data;
  chain = chain.then((pyodide) => handle(pyodide, command).then(() => pyodide));
});

/**
 * Load Pyodide and post READY (or BOOT_ERROR).
 * @returns {Promise<any>} the Pyodide API object
 */
async function boot() {
  try {
    const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
    const importedAt = performance.now();
    const pyodide = await loadPyodide({
      indexURL,
      packageBaseUrl: indexURL,
      stdout: (text) => self.postMessage({ type: "stdout", text }),
      stderr: (text) => self.postMessage({ type: "stderr", text }),
    });
    const pythonVersion = pyodide.runPython("import sys; sys.version");
    self.postMessage({
      type: READY,
      python_version: pythonVersion,
      pyodide_version: pyodide.version,
      boot_ms: performance.now() - startedAt,
      import_ms: importedAt - startedAt,
      load_ms: performance.now() - importedAt,
    });
    return pyodide;
  } catch (err) {
    self.postMessage({ type: BOOT_ERROR, message: describe(err) });
    // Never resolve: commands after a failed boot are not answered; the page shows the error.
    return new Promise(() => {});
  }
}

/**
 * Run one command and post its result.
 * @param {any} pyodide
 * @param {import("./protocol.js").Command} command
 */
async function handle(pyodide, command) {
  try {
    let value;
    if (command.cmd === "run") {
      value = toPlain(await pyodide.runPythonAsync(command.code));
    } else if (command.cmd === "echo") {
      value = command.value;
    } else if (command.cmd === "ping") {
      value = pyodide.runPython("0");
    } else {
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
    }
    self.postMessage({ type: RESULT, id: command.id, value });
  } catch (err) {
    self.postMessage({ type: ERROR, id: command.id, message: describe(err) });
  }
}

/**
 * Convert a Python result into something postMessage can clone.
 * @param {any} value
 */
function toPlain(value) {
  if (value && typeof value.toJs === "function") {
    const plain = value.toJs({ dict_converter: Object.fromEntries });
    value.destroy?.();
    return plain;
  }
  return value;
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
