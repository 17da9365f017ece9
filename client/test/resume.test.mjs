import assert from "node:assert/strict";
import { test } from "node:test";

import { resumePlan } from "../src/game/resume.js";

const frame = (f) => ({ frame: f, actions: { a: f % 3, b: 0 }, focused: true });
const scene = (progress, resume = null) => ({ episodes: 3, progress, resume });

test("a fresh scene starts at episode 0 with nothing to replay", () => {
  assert.deepEqual(resumePlan(scene([]), []), { first: 0, replay: [], problem: null });
});

test("complete episodes are skipped, also when only the outbox holds their end", () => {
  const progress = [{ episode: 0, status: "complete", frames: 5 }];
  assert.equal(resumePlan(scene(progress), []).first, 1);
  const queued = [{ type: "episode_end", episode: 1, frames: 5 }];
  assert.equal(resumePlan(scene(progress), queued).first, 2);
  const all = [...progress, { episode: 1, status: "complete" }, { episode: 2, status: "complete" }];
  assert.equal(resumePlan(scene(all), []).first, 3);
});

test("an episode cut short is replayed from the stored and the queued frames", () => {
  const progress = [{ episode: 0, status: "interrupted", frames: 3 }];
  const resume = { episode: 0, frames: [0, 1, 2].map(frame) };
  const queued = [{ type: "frames", episode: 0, records: [3, 4].map((f) => ({ ...frame(f), rewards: {} })) }];
  const plan = resumePlan(scene(progress, resume), queued);
  assert.equal(plan.first, 0);
  assert.deepEqual(plan.replay.map((f) => f.frame), [0, 1, 2, 3, 4]);
  assert.deepEqual(plan.replay[4], frame(4), "only what the replay needs");
  // a chunk both stored and still queued (its ack was lost) counts once
  const again = resumePlan(scene(progress, resume), [{ type: "frames", episode: 0, records: [frame(2)] }]);
  assert.equal(again.replay.length, 3);
});

test("a gap in the recording or a closed partial episode cannot be played on", () => {
  const progress = [{ episode: 0, status: "interrupted", frames: 2 }];
  const gap = resumePlan(scene(progress, { episode: 0, frames: [frame(0), frame(2)] }), []);
  assert.match(gap.problem, /missing frame 1/);
  const cut = resumePlan(scene([{ episode: 0, status: "partial", reason: "superseded" }]), []);
  assert.match(cut.problem, /episode 1 was cut short \(superseded\)/);
});

test("a multiplayer scene keeps the whole canonical record of the queued frames", () => {
  const progress = [{ episode: 0, status: "interrupted", frames: 1 }];
  const record = (f) => ({ ...frame(f), rewards: { a: 1 }, terminated: false, truncated: false, infos: {}, state_hash: null, t: { tick: 5 } });
  const plan = resumePlan({ ...scene(progress, { episode: 0, frames: [frame(0)] }), multiplayer: {} }, [
    { type: "frames", episode: 0, records: [record(1)] },
  ]);
  const { t: _t, ...expected } = record(1);
  assert.deepEqual(plan.replay[1], expected);
});
