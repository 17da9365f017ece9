// The message protocol between the main thread and the Python worker.
// Kept in one place so both sides (and later the game runtime) agree on it.
//
// Worker -> main thread:
//   {type: "ready", python_version, pyodide_version, boot_ms,    first message after a good boot
//    import_ms, load_ms}                                          (boot = import pyodide.mjs + loadPyodide)
//   {type: "boot_error", message}                                 boot failed; nothing else follows
//   {type: "result", id, value}                                   a command finished
//   {type: "error", id, message}                                  a command failed
//   {type: "stdout" | "stderr", text}                             Python printed something
//   {type: "progress", stage, fraction}                           boot / game load progress (0..1)
//   {type: "frame", episode, records, render, hud, done,          one per game tick (game-loop.js)
//    telemetry: {step_ms, ticks, late_ms}}
//   {type: "game_error", episode, message}                        the game loop stopped on an error
// Main thread -> worker:
//   {id, cmd: "run", code}      run Python code, reply with its last expression (converted to JS)
//   {id, cmd: "echo", value}    reply with value without touching Python (measures the hop)
//   {id, cmd: "ping"}           call into Python and back (measures a full round trip)
//   {id, cmd: "unpack", url}    fetch a zip of Python packages and unpack it into site-packages
//   {id, cmd: "replay", scene, seed, frames}
//                               admin console: replay stored frames (after "unpack" of the
//                               scene's packages); reply {first, frames, differences, totals,
//                               complete, ms} (igym_core.runtime.replay)
//   {id, cmd: "game_load", scene, packages_url, time_origin}
//                               unpack the env's packages zip, build LocalPlay(scene); reply with
//                               load timings. time_origin: the main thread's performance.timeOrigin
//   {id, cmd: "game_start", episode, seed, replay?}   reset; reply {render, hud} of the first
//                               state. replay: frames a reloaded page had recorded
//                               ([{frame, actions, focused}] from 0): replayed first, and the
//                               reply is the state after them, with resumed_at (frames replayed)
//   {id, cmd: "game_run"}       start the game clock (ticks at scene.fps until the episode is done)
//   {id, cmd: "game_stop"}      stop the clock
//   {id, cmd: "net_load", scene, match, packages_url, time_origin}
//                               multiplayer: build NetPlay(scene, match) instead (net-loop.js);
//                               then game_start / game_run / game_stop as above, and the worker
//                               posts "net_frame" messages instead of "frame". game_start's replay
//                               is then the whole settled records; the episode is rebuilt and
//                               rejoins the match (NetPlay.resume)
//   {id, cmd: "net_end_at", episode, frame, leave}
//                               the server ended the match (a member was excluded): the episode
//                               ends after `frame` frames (NetPlay.end_at; leave: this page's
//                               inputs are idle from now on); reply {end_frame, settled}
//                               (end_frame null: already past it, the page ends where it is)
//   {type: "net_packets", packets: [[peer, ArrayBuffer], ...]}   received from the data channels
//   {type: "net_hold", peer, seconds}   a partner's page reloads: wait for it up to seconds
//   {type: "input", kind: "down" | "up" | "clear", action, t}   a key event (no reply, never queued
//   {type: "focus", focused}                                     behind commands)

/** @typedef {{type: "ready", python_version: string, pyodide_version: string, boot_ms: number, import_ms: number, load_ms: number}} ReadyMessage */
/** @typedef {{type: "boot_error", message: string}} BootErrorMessage */
/** @typedef {{type: "result", id: number, value: unknown}} ResultMessage */
/** @typedef {{type: "error", id: number, message: string}} ErrorMessage */
/** @typedef {{type: "stdout" | "stderr", text: string}} OutputMessage */
/** @typedef {{type: "progress" | "frame" | "game_error", [key: string]: any}} EventMessage */
/** @typedef {ReadyMessage | BootErrorMessage | ResultMessage | ErrorMessage | OutputMessage | EventMessage} WorkerMessage */
/** @typedef {{id: number, cmd: "run", code: string} | {id: number, cmd: "echo", value: unknown} | {id: number, cmd: "ping"} | {id: number, cmd: "unpack", url: string}} Command */

export const READY = "ready";
export const BOOT_ERROR = "boot_error";
export const RESULT = "result";
export const ERROR = "error";
export const PROGRESS = "progress";
export const FRAME = "frame";
export const GAME_ERROR = "game_error";
