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
// Main thread -> worker:
//   {id, cmd: "run", code}      run Python code, reply with its last expression (converted to JS)
//   {id, cmd: "echo", value}    reply with value without touching Python (measures the hop)
//   {id, cmd: "ping"}           call into Python and back (measures a full round trip)

/** @typedef {{type: "ready", python_version: string, pyodide_version: string, boot_ms: number, import_ms: number, load_ms: number}} ReadyMessage */
/** @typedef {{type: "boot_error", message: string}} BootErrorMessage */
/** @typedef {{type: "result", id: number, value: unknown}} ResultMessage */
/** @typedef {{type: "error", id: number, message: string}} ErrorMessage */
/** @typedef {{type: "stdout" | "stderr", text: string}} OutputMessage */
/** @typedef {ReadyMessage | BootErrorMessage | ResultMessage | ErrorMessage | OutputMessage} WorkerMessage */
/** @typedef {{id: number, cmd: "run", code: string} | {id: number, cmd: "echo", value: unknown} | {id: number, cmd: "ping"}} Command */

export const READY = "ready";
export const BOOT_ERROR = "boot_error";
export const RESULT = "result";
export const ERROR = "error";
