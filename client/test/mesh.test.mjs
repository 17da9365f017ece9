import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { fromBase64, toBase64 } from "../src/base64.js";
import { PeerMesh, RELAY_AFTER_MS } from "../src/p2p/mesh.js";

// A peer connection whose two data channels are open at once and record what is sent on them.
class FakeChannel {
  constructor(label) {
    this.label = label;
    this.readyState = "open";
    this.bufferedAmount = 0;
    /** @type {unknown[]} */
    this.sent = [];
  }
  send(data) {
    this.sent.push(data);
  }
  addEventListener() {}
  close() {
    this.readyState = "closed";
  }
}

class FakePeerConnection {
  constructor() {
    this.connectionState = "connected";
    this.iceConnectionState = "connected";
    this.signalingState = "stable";
    /** @type {FakeChannel[]} */
    this.channels = [];
  }
  createDataChannel(label) {
    const channel = new FakeChannel(label);
    this.channels.push(channel);
    return channel;
  }
  addEventListener() {}
  restartIce() {}
  close() {
    this.connectionState = "closed";
  }
}

let saved;
beforeEach(() => {
  saved = globalThis.RTCPeerConnection;
  globalThis.RTCPeerConnection = FakePeerConnection;
});
afterEach(() => {
  globalThis.RTCPeerConnection = saved;
});

/** A mesh for member 0 of a two-member match, with what it relays and receives recorded. */
function meshFor() {
  const relayed = [];
  const packets = [];
  const ends = [];
  const mesh = new PeerMesh({
    match: {
      match_id: "m1",
      members: [
        { peer: "a", agents: ["agent_0"] },
        { peer: "b", agents: ["agent_1"] },
      ],
      you: 0,
      ice_servers: [],
      max_p2p_rtt_ms: null,
      seeds: [1],
    },
    sendSignal: () => {},
    sendRelay: (to, list, controls) => relayed.push({ to, packets: list, controls }),
    onPacket: (peer, data) => packets.push([peer, [...new Uint8Array(data)]]),
    onEnd: (peer, episode, data) => ends.push([peer, episode, [...new Uint8Array(data)]]),
  });
  const link = /** @type {any} */ (mesh.links.get(1));
  return { mesh, link, relayed, packets, ends };
}

const bytes = (...values) => new Uint8Array(values).buffer;

test("no relay before the game is on, nor while the partner is heard over the data channel", () => {
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.sendPackets([[1, bytes(1, 2)]]);
    assert.equal(relayed.length, 0, "relay is off until match_start");
    mesh.relayEnabled = true;
    link.heardAt = performance.now();
    mesh.sendPackets([[1, bytes(1, 2)]]);
    assert.equal(relayed.length, 0);
    assert.equal(link.game.sent.length, 2, "the packets went over the game channel");
  } finally {
    mesh.close();
  }
});

test("a silent partner gets the packets through the server too, at most 16 per message", () => {
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = performance.now() - RELAY_AFTER_MS - 1;
    const many = Array.from({ length: 20 }, (_, i) => /** @type {[number, ArrayBuffer]} */ ([1, bytes(i, 7)]));
    mesh.sendPackets(many);
    assert.equal(link.game.sent.length, 20, "the data channel still gets every packet");
    assert.deepEqual(relayed.map((r) => [r.to, r.packets.length]), [["b", 16], ["b", 4]]);
    assert.deepEqual(relayed[0].controls, [{ t: "deaf" }], "and says it does not hear the partner");
    assert.deepEqual([...fromBase64(relayed[1].packets[3])], [19, 7]);
    assert.equal(mesh.stats.relayed_out, 20);
  } finally {
    mesh.close();
  }
});

test("silence counts from the start of play, not from the quiet countdown before it", () => {
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = performance.now() - 5000;
    mesh.listen();
    mesh.sendPackets([[1, bytes(1)]]);
    assert.equal(relayed.length, 0);
  } finally {
    mesh.close();
  }
});

test("what a partner relays reaches the engine and the control logic, and we answer the same way", () => {
  const { mesh, link, relayed, packets, ends } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = performance.now();
    mesh.relayed({
      sender: "b",
      packets: [toBase64(new Uint8Array([9, 8, 7])), "not base64!"],
      controls: [{ t: "ready", episode: 1 }, { t: "end", episode: 0, packet: toBase64(new Uint8Array([5])) }, null],
    });
    assert.deepEqual(packets, [[1, [9, 8, 7]]], "the malformed packet is skipped");
    assert.ok(mesh.readySet(1).has(1));
    assert.deepEqual(ends, [[1, 0, [5]]]);
    assert.equal(mesh.stats.relayed_in, 3);
    mesh.sendPackets([[1, bytes(4)]]);
    assert.equal(relayed.length, 0, "relaying alone does not make us relay back (no loop)");
    mesh.relayed({ sender: "b", controls: [{ t: "deaf" }] });
    assert.equal(mesh.stats.relayed_in, 3, "'deaf' is not counted as a message");
    mesh.sendPackets([[1, bytes(4)]]);
    assert.equal(relayed.length, 1, "a partner that does not hear us gets our packets through the server");
    assert.deepEqual(relayed[0].controls, [], "we hear it, so we do not say deaf");
    mesh.relayed({ sender: "a", packets: [toBase64(new Uint8Array([1]))] });
    assert.equal(packets.length, 1, "our own id as sender is ignored");
  } finally {
    mesh.close();
  }
});

test("pings test the data channel only; an end report goes through the server in any case", () => {
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = -Infinity;
    mesh.ping(1, 50).catch(() => {});
    mesh.control(1, { t: "ping", n: 3, at: 1 });
    assert.equal(relayed.length, 0);
    link.heardAt = performance.now();
    mesh.broadcast({ t: "end", episode: 0, packet: "AA==" }, { relay: true });
    assert.deepEqual(relayed, [{ to: "b", packets: [], controls: [{ t: "end", episode: 0, packet: "AA==" }] }]);
    assert.equal(link.ctl.sent.length, 3, "ping, pong and end went over the data channels");
    mesh.close();
    mesh.broadcast({ t: "end", episode: 0, packet: "AA==" }, { relay: true });
    assert.equal(relayed.length, 1, "a closed mesh relays nothing");
  } finally {
    mesh.close();
  }
});

test("a health-check ping unanswered goes again, then through the server; its pong comes back so", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = performance.now();
    const sentBefore = link.ctl.sent.length;
    const answered = mesh.ping(1, 10_000, { again: 1000, viaServerAfter: 3000 });
    t.mock.timers.tick(2000);
    assert.equal(relayed.length, 0, "the first seconds: the data channel only");
    assert.ok(link.ctl.sent.length >= sentBefore + 3, "sent again every second");
    t.mock.timers.tick(1000);
    const viaServer = relayed.filter((r) => r.controls.some((c) => c.t === "ping"));
    assert.equal(viaServer.length, 1, "after 3 s through the server as well");
    const { n, at } = viaServer[0].controls[0];
    mesh.relayed({ sender: "b", controls: [{ t: "pong", n, at }] });
    assert.ok((await answered) >= 0);
    assert.equal(mesh.stats.pings_via_server, 1);
    // a ping that came through the server is answered through the server
    mesh.relayed({ sender: "b", controls: [{ t: "ping", n: 7, at: 1 }] });
    assert.deepEqual(relayed.at(-1).controls, [{ t: "pong", n: 7, at: 1 }]);
  } finally {
    mesh.close();
  }
});

test("a newer generation replaces the connection and older signals are dropped", () => {
  const { mesh } = meshFor();
  const first = mesh.links.get(1);
  assert.equal(first.gen, 0);
  mesh.resetLink(1, 1);
  const second = mesh.links.get(1);
  assert.notEqual(second, first);
  assert.equal(second.gen, 1);
  assert.equal(first.pc.connectionState, "closed");
  mesh.resetLink(1, 1); // the same generation again: nothing changes
  assert.equal(mesh.links.get(1), second);
  assert.equal(mesh.doctor.cases.get(1)?.brokenAt ?? null, null, "a reload's new connection is no repair");
  mesh.resetLink(1, 1, true); // the partner's repair, announced after its signal made gen 1 here
  assert.equal(mesh.links.get(1), second);
  assert.equal(mesh.doctor.cases.get(1).how, "new_connection", "reported as this side's repair too");
  let got = null;
  second.signal = (data) => {
    got = data;
  };
  mesh.signal({ sender: mesh.match.members[1].peer, data: { gen: 0, candidate: {} } });
  assert.equal(got, null, "a signal of the old connection is stale");
  mesh.signal({ sender: mesh.match.members[1].peer, data: { gen: 1, candidate: { c: 1 } } });
  assert.deepEqual(got, { gen: 1, candidate: { c: 1 } });
  mesh.signal({ sender: mesh.match.members[1].peer, data: { gen: 2, candidate: {} } });
  assert.equal(mesh.links.get(1).gen, 2, "a newer signal makes the newer connection");
  mesh.close();
});

test("ready and go also go through the server, even over a healthy channel", async () => {
  const { mesh, link, relayed } = meshFor();
  try {
    mesh.relayEnabled = true;
    link.heardAt = performance.now(); // a healthy channel: packets would not be relayed
    const start = mesh.agreeStart(0, 3000, 1000);
    mesh.control(1, { t: "ready", episode: 0 });
    const startAt = await start;
    assert.ok(startAt > performance.now() + 2000);
    assert.deepEqual(relayed.map((r) => r.controls[0].t), ["ready", "go"]);
  } finally {
    mesh.close();
  }
});
