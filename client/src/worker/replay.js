// Replaying a stored episode inside the worker (the admin console's replay): one Python call,
// igym_core.runtime.replay.replay_json, with JSON in and out. The packages zip must have been
// unpacked first (the "unpack" command).

/**
 * @param {any} pyodide
 * @param {{scene: Record<string, any>, seed: number, frames: object[]}} command
 * @returns {{first: object[], frames: object[], differences: object[], totals: Record<string, {stored: number, replayed: number}>, complete: boolean, ms: number}}
 */
export function replay(pyodide, command) {
  const started = performance.now();
  const module = pyodide.pyimport("igym_core.runtime.replay");
  try {
    const text = module.replay_json(JSON.stringify({ scene: command.scene, seed: command.seed, frames: command.frames }));
    return { ...JSON.parse(text), ms: performance.now() - started };
  } finally {
    module.destroy();
  }
}
