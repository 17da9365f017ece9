// The main thread's part in the rollback netcode of a multiplayer game scene: it only carries
// packets. Packets from the data channels go to the worker (worker/net-loop.js), batched per task
// into one "net_packets" message with the ArrayBuffers transferred; the packets in each of the
// worker's "net_frame" messages go to the data channels (p2p/mesh.js). When an episode is over,
// every copy of this peer's agreed end report sent while lingering may have been lost, so it is
// said once more on every path, the server relay included.

import { NET_PACKETS } from "../worker/net-loop.js";

export class PacketBridge {
  /**
   * @param {() => import("../worker/pyworker.js").PythonWorker | null} worker the game's worker
   * @param {() => import("../p2p/mesh.js").PeerMesh | null} mesh the connections to the partners
   */
  constructor(worker, mesh) {
    this.worker = worker;
    this.mesh = mesh;
    /** @type {[number, ArrayBuffer][]} packets waiting to be posted to the worker */
    this.inbound = [];
    this.scheduled = false;
  }

  /**
   * A packet from a partner; dropped if the worker is not ready when the batch goes.
   * @param {number} peer @param {ArrayBuffer} data
   */
  toWorker(peer, data) {
    this.inbound.push([peer, data]);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const packets = this.inbound;
      this.inbound = [];
      const py = this.worker();
      if (!py?.isReady) return;
      py.worker.postMessage({ type: NET_PACKETS, packets }, packets.map(([, d]) => d));
    });
  }

  /** @param {{packets: [number, ArrayBuffer][], done: boolean, farewell: string | null, episode: number}} frame a net_frame message */
  fromWorker(frame) {
    const mesh = this.mesh();
    mesh?.sendPackets(frame.packets);
    if (frame.done && frame.farewell) {
      mesh?.broadcast({ t: "end", episode: frame.episode, packet: frame.farewell }, { relay: true });
    }
  }
}
