// Module Web Worker that boots Pyodide from the igym server and runs Python commands.
// Game scenes run here too (game-loop.js): the game loop and its clock, off the main thread.
//
// Started by PythonWorker (pyworker.js) as `new Worker(url, {type: "module"})`. The Pyodide
// location comes from the `indexURL` query parameter of this script's URL; by default it is the
// same-origin `../pyodide/` folder next to this file. It is always passed to loadPyodide, which
// otherwise falls back to a CDN.

import { GameLoop } from "./game-loop.js";
import { NET_HOLD, NET_PACKETS, NetLoop } from "./net-loop.js";
import { BOOT_ERROR, ERROR, PROGRESS, READY, RESULT } from "./protocol.js";
import { replay } from "./replay.js";

const startedAt = performance.now();
const params = new URL(self.location.href).searchParams;
const indexURL = new URL(params.get("indexURL") ?? "../pyodide/", self.location.href).href;

/** Commands that arrive before Python is ready wait here, in order. */
let chain = boot();
/** @type {GameLoop | null} the game scene's loop, once "game_load" made it */
let game = null;

self.addEventListener("message", (event) => {
  const command = event.data;
  // Key and focus events go straight to the game's input state: they must not wait for a command.
  if (command?.type === "input" || command?.type === "focus" || command?.type === NET_HOLD) {
    game?.receive(command);
    return;
  }
  // Packets from the data channels (multiplayer) go straight to the net loop too.
  if (command?.type === NET_PACKETS) {
    if (game instanceof NetLoop) game.receivePackets(command.packets);
    return;
  }
  chain = chain.then((pyodide) => handle(pyodide, command).then(() => pyodide));
});

/**
 * Load Pyodide and post READY (or BOOT_ERROR).
 * @returns {Promise<any>} the Pyodide API object
 */
async function boot() {
  try {
    self.postMessage({ type: PROGRESS, stage: "downloading", fraction: 0.05 });
    const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
    const importedAt = performance.now();
    self.postMessage({ type: PROGRESS, stage: "starting", fraction: 0.2 });
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
    } else if (command.cmd === "unpack") {
      value = await unpack(pyodide, command.url);
    } else if (command.cmd === "replay") {
      value = replay(pyodide, command);
    } else if (command.cmd === "game_load") {
      game?.stop();
      game = new GameLoop(pyodide, (message) => self.postMessage(message));
      value = await game.load(command);
    } else if (command.cmd === "net_load") {
      game?.stop();
      game = new NetLoop(pyodide, (message, transfer) => self.postMessage(message, transfer ?? []));
      value = await game.load(command);
    } else if (command.cmd === "game_start") {
      value = requireGame().start(command);
    } else if (command.cmd === "game_run") {
      value = requireGame().run();
    } else if (command.cmd === "net_end_at") {
      const loop = requireGame();
      if (!(loop instanceof NetLoop)) throw new Error("net_end_at needs a multiplayer game (net_load)");
      value = loop.endAt(command);
    } else if (command.cmd === "game_stop") {
      value = requireGame().stop() ?? null;
    } else {
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
    }
    self.postMessage({ type: RESULT, id: command.id, value });
  } catch (err) {
    self.postMessage({ type: ERROR, id: command.id, message: describe(err) });
  }
}

/** @returns {GameLoop} */
function requireGame() {
  if (!game) throw new Error("no game is loaded (send game_load first)");
  return game;
}

/**
 * Fetch a zip of Python packages (the server's content-hashed /packages/<digest>.zip) and unpack
 * it into site-packages, so that its modules can be imported. No micropip, no package index.
 * @param {any} pyodide
 * @param {string} url
 * @returns {Promise<{url: string, bytes: number, site_packages: string, ms: number}>}
 */
async function unpack(pyodide, url) {
  const startedAt = performance.now();
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  const buffer = await response.arrayBuffer();
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  pyodide.unpackArchive(buffer, "zip", { extractDir: sitePackages });
  pyodide.runPython("import importlib; importlib.invalidate_caches()");
  return { url, bytes: buffer.byteLength, site_packages: sitePackages, ms: performance.now() - startedAt };
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
