// The game loop of a multiplayer (peer-to-peer) game scene, inside the worker: like GameLoop
// (game-loop.js) it unpacks the environment's packages and runs the clock at the scene's fps,
// but each tick drives igym_core.runtime.netplay.NetPlay, the rollback engine's host:
//
//   packets received from the data channels (the main thread posts them as they arrive,
//   {type: "net_packets", packets: [[peer, ArrayBuffer], ...]}) + the sampled local input
//     -> ONE Python call (NetPlay.tick_json) ->
//   ONE "net_frame" message: the packets to send (ArrayBuffers, transferred), the render of the
//   newest speculative state, the HUD, the frame records that became final (settled) with their
//   timestamps, the session's events, rollback telemetry and `done` (with the episode summary
//   and the "farewell": this peer's agreed episode-end packet, base64, which the page passes on
//   to partners that may still be waiting for it).
//
// Rollbacks and replays happen inside that one Python call. NetPlay decides how many frames are
// due from the time it is given, so a late tick catches up by itself; while a partner is away
// the game is paused (`paused` in every net_frame) and the clock goes on from where it stopped.
// "net_end_at" (the server ended the match because a member was excluded) lowers the episode's
// end to the frame the server chose, so that every member's records end on the same frame.
// After a reload, game_start with `replay` (the settled records the page had recorded) rebuilds
// the episode (NetPlay.resume) and rejoins the match; "net_hold" messages say a partner's page
// is reloading, so the game waits for it longer than the reconnect timeout.
//
// Timestamps are on the MAIN thread's clock (see game-loop.js). A settled record's `t` is
// {key, tick, step, drawn}: when the local key event happened, the tick that sampled it, when the
// frame was first simulated here; `drawn` is filled in by the main thread.

import { fromBase64, toBase64 } from "../base64.js";
import { GameLoop, loadTimings } from "./game-loop.js";
import { GAME_ERROR, PROGRESS } from "./protocol.js";

export const NET_FRAME = "net_frame";
export const NET_PACKETS = "net_packets";
export const NET_HOLD = "net_hold";

const GLUE = `
import json as _json
from igym_core.runtime.netplay import NetPlay as _NetPlay

_igym_net = _NetPlay(_json.loads(_igym_scene_json), _json.loads(_igym_match_json))

def _igym_net_start(episode, replay_json):
    replay = _json.loads(replay_json)
    if replay is not None:
        return _json.dumps(_igym_net.resume(episode, replay))
    return _json.dumps(_igym_net.start(episode))

def _igym_net_tick(args_json):
    return _igym_net.tick_json(args_json)

def _igym_net_end_at(episode, frame, leave):
    return _json.dumps(_igym_net.end_at(episode, frame, leave))

def _igym_net_summary():
    return _json.dumps(_igym_net.summary())

def _igym_net_farewell():
    import base64 as _b64
    packet = _igym_net.farewell()
    return None if packet is None else _b64.b64encode(packet).decode("ascii")
`;

export class NetLoop extends GameLoop {
  /**
   * @param {any} pyodide
   * @param {(message: object, transfer?: Transferable[]) => void} post
   */
  constructor(pyodide, post) {
    super(pyodide, post);
    /** @type {[number, string][]} packets received since the last tick, base64 */
    this.incoming = [];
    /** @type {Map<number, {key: number | null, tick: number}>} frame -> when its local input was sampled */
    this.inputTimes = new Map();
    /** @type {Map<number, number>} frame -> when it was first simulated here */
    this.stepTimes = new Map();
    this.frame = 0;
    /** @type {((args: string) => string) | null} */
    this.netTick = null;
    /** @type {(() => string) | null} */
    this.netSummary = null;
    /** @type {((episode: number, frame: number, leave: boolean) => string) | null} */
    this.netEndAt = null;
    /** @type {(() => string | undefined) | null} */
    this.netFarewell = null;
    /** @type {[number, number][]} partners to wait for longer: [peer, seconds] */
    this.holds = [];
  }

  /**
   * Input and focus (see GameLoop), and "net_hold": the server says partner `peer` comes back
   * (its page reloads): wait up to `seconds` for it.
   * @param {any} message
   */
  receive(message) {
    if (message.type === NET_HOLD) {
      this.holds.push([Number(message.peer), Number(message.seconds)]);
      return;
    }
    super.receive(message);
  }

  /**
   * @param {{scene: Record<string, any>, match: Record<string, any>, packages_url: string, time_origin: number}} command
   */
  async load(command) {
    const { scene } = command;
    this.clockOffset = performance.timeOrigin - command.time_origin;
    this.fps = Number(scene.fps) || 30;
    this.periodMs = 1000 / this.fps;
    const t0 = performance.now();
    const data = await this.fetchPackages(command.packages_url);
    const fetched = performance.now();
    this.post({ type: PROGRESS, stage: "unpacking", fraction: 0.9 });
    const sitePackages = this.pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
    this.pyodide.unpackArchive(data, "zip", { extractDir: sitePackages });
    const unpacked = performance.now();
    this.pyodide.globals.set("_igym_scene_json", JSON.stringify(scene));
    this.pyodide.globals.set("_igym_match_json", JSON.stringify(command.match));
    this.pyodide.runPython(GLUE);
    this.startFn = this.pyodide.globals.get("_igym_net_start");
    this.netTick = this.pyodide.globals.get("_igym_net_tick");
    this.netSummary = this.pyodide.globals.get("_igym_net_summary");
    this.netEndAt = this.pyodide.globals.get("_igym_net_end_at");
    this.netFarewell = this.pyodide.globals.get("_igym_net_farewell");
    this.advanceFn = this.netTick; // GameLoop.run() checks that the game is loaded with it
    return loadTimings(data.byteLength, t0, fetched, unpacked, performance.now());
  }

  /**
   * @param {{episode: number, replay?: object[] | null}} command replay: the settled records
   *   of the episode a reloaded page had recorded (frames 0..n-1): rebuild and rejoin
   * @returns {{render: object[], hud: Record<string, number>, resumed_at?: number, done?: boolean}}
   */
  start(command) {
    if (!this.startFn) throw new Error("the game is not loaded");
    this.stop();
    this.episode = command.episode;
    this.input.clear();
    this.incoming = [];
    this.inputTimes.clear();
    this.stepTimes.clear();
    const out = JSON.parse(/** @type {any} */ (this.startFn)(command.episode, JSON.stringify(command.replay ?? null)));
    this.frame = out.resumed_at ?? 0;
    // rebuilt after the end: this peer's end report, for partners still waiting for it
    if (out.done) out.farewell = this.netFarewell?.() ?? null;
    return out;
  }

  /**
   * "net_end_at": the server ended the match (a member was excluded); the episode ends after
   * `frame` frames for every member (NetPlay.end_at). `leave`: this page is the excluded one,
   * its inputs are idle from now on.
   * @param {{episode: number, frame: number, leave?: boolean}} command
   * @returns {{end_frame: number | null, settled: number}}
   */
  endAt(command) {
    if (!this.netEndAt) throw new Error("the game is not loaded");
    return JSON.parse(this.netEndAt(Number(command.episode), Number(command.frame), Boolean(command.leave)));
  }

  /** @param {[number, ArrayBuffer][]} packets from the data channels */
  receivePackets(packets) {
    if (this.incoming.length > 4096) return; // a flood must not exhaust memory
    for (const [peer, data] of packets) this.incoming.push([peer, toBase64(new Uint8Array(data))]);
  }

  tick() {
    if (!this.running || !this.netTick) return;
    const started = performance.now();
    const tickAt = started + this.clockOffset;
    const late = started - (this.t0 + this.ticks * this.periodMs);
    const sample = this.input.sample();
    const packets = this.incoming;
    this.incoming = [];
    const holds = this.holds;
    this.holds = [];
    let out;
    try {
      out = JSON.parse(
        this.netTick(JSON.stringify({ now: tickAt, action: sample.action, focused: this.input.focused, packets, holds })),
      );
    } catch (err) {
      this.stop();
      this.post({ type: GAME_ERROR, episode: this.episode, message: describe(err) });
      return;
    }
    const stepped = performance.now();
    const steppedAt = stepped + this.clockOffset;
    if (out.inputs.length === 0 && sample.key_t !== null && sample.action !== null) {
      // stalled: the press was not used; keep it for the next tick
      this.input.fresh.unshift({ action: sample.action, t: sample.key_t });
    }
    out.inputs.forEach((/** @type {number} */ frame, /** @type {number} */ i) => {
      this.inputTimes.set(frame, { key: i === 0 ? sample.key_t : null, tick: tickAt });
    });
    for (let f = this.frame; f < out.frame; f += 1) this.stepTimes.set(f, steppedAt);
    this.frame = Math.max(this.frame, out.frame);
    for (const record of out.settled) {
      const input = this.inputTimes.get(record.frame);
      record.t = { key: input?.key ?? null, tick: input?.tick ?? null, step: this.stepTimes.get(record.frame) ?? null, drawn: null };
      this.inputTimes.delete(record.frame);
      this.stepTimes.delete(record.frame);
    }
    /** @type {ArrayBuffer[]} */
    const transfer = [];
    const packetsOut = out.packets_out.map((/** @type {[number, string]} */ [peer, data]) => {
      const buffer = fromBase64(data).buffer;
      transfer.push(buffer);
      return [peer, buffer];
    });
    this.ticks += 1;
    const message = {
      type: NET_FRAME,
      episode: this.episode,
      frame: out.frame,
      settled: out.settled,
      render: out.render,
      hud: out.hud,
      events: out.events,
      done: out.done,
      packets: packetsOut,
      summary: out.done && this.netSummary ? JSON.parse(this.netSummary()) : null,
      // this peer's agreed end of the episode, for partners that may not have heard it
      farewell: out.done && this.netFarewell ? (this.netFarewell() ?? null) : null,
      telemetry: {
        step_ms: stepped - started,
        ticks: 1,
        late_ms: Math.max(0, late),
        rollbacks: out.rollbacks,
        rollback_depth: out.rollback_depth,
        replayed: out.replayed,
        stalled: out.stalled,
        paused: out.paused,
        rejoining: out.rejoining,
        rtt_ms: out.rtt_ms,
      },
    };
    this.post(message, transfer);
    if (out.done) {
      this.stop();
      return;
    }
    // Catch-up is NetPlay's business; after a late tick, go on from now.
    const now = performance.now();
    if (now - (this.t0 + this.ticks * this.periodMs) > this.periodMs * 4) {
      this.ticks = Math.floor((now - this.t0) / this.periodMs);
    }
    const next = this.t0 + this.ticks * this.periodMs;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
