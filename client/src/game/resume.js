// Where a game scene goes on after a reload: the episodes already done are not played again, and
// an episode the page was in the middle of is replayed from its recorded frames (what the server
// stored plus what the outbox still holds) and played on from the next frame, so that the
// episode is complete, with every frame once. A multiplayer scene keeps each frame's whole
// canonical record (the rebuilt game must reproduce it; see NetPlay.resume), a single-player
// one what its replay needs. DOM-free: tested with node.

/**
 * @typedef {{episode: number, status: string, reason?: string | null, frames: number}} Progress
 * @typedef {{frame: number, actions: Record<string, number>, focused: unknown, [key: string]: unknown}} ReplayFrame
 * @typedef {{first: number, replay: ReplayFrame[], problem: string | null}} Plan
 *   first: the episode to play next (scene.episodes when all are done); replay: the frames of
 *   `first` already recorded, 0..n-1; problem: why the scene cannot go on (nothing is played)
 */

/**
 * @param {{episodes: number, progress?: Progress[], multiplayer?: unknown,
 *          resume?: {episode: number, frames: ReplayFrame[]} | null}} scene
 * @param {Record<string, any>[]} queued messages for this scene still in the outbox
 * @returns {Plan}
 */
export function resumePlan(scene, queued) {
  const status = new Map((scene.progress ?? []).map((p) => [p.episode, p]));
  const ended = new Set(queued.filter((m) => m.type === "episode_end").map((m) => m.episode));
  let first = 0;
  while (first < scene.episodes && (status.get(first)?.status === "complete" || ended.has(first))) first += 1;
  const plan = { first, replay: /** @type {ReplayFrame[]} */ ([]), problem: null };
  if (first >= scene.episodes) return plan;
  const known = status.get(first);
  if (known && known.status === "partial") {
    return { ...plan, problem: `episode ${first + 1} was cut short (${known.reason ?? "frames missing"}) and cannot be played again` };
  }
  /** @type {Map<number, ReplayFrame>} */
  const frames = new Map();
  if (scene.resume?.episode === first) {
    for (const f of scene.resume.frames) frames.set(f.frame, f);
  }
  for (const message of queued) {
    if (message.type !== "frames" || message.episode !== first) continue;
    for (const record of message.records ?? []) {
      frames.set(record.frame, scene.multiplayer ? canonical(record) : { frame: record.frame, actions: record.actions, focused: record.focused });
    }
  }
  const replay = [...frames.values()].sort((a, b) => a.frame - b.frame);
  const gap = replay.findIndex((f, i) => f.frame !== i);
  if (gap >= 0) return { ...plan, problem: `episode ${first + 1} is missing frame ${gap} of its recording` };
  return { ...plan, replay };
}

/**
 * A recorded frame without the page's timestamps: what every member has.
 * @param {Record<string, unknown>} record
 * @returns {ReplayFrame}
 */
function canonical(record) {
  const { t: _t, ...rest } = record;
  return /** @type {ReplayFrame} */ (rest);
}
