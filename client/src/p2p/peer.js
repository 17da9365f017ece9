// One WebRTC connection to one other member of a match, symmetric: both sides run the same code
// and "perfect negotiation" settles who answers when both offer at once (the polite peer, the
// one with the higher index in the match, gives way). Signaling goes through the server's
// websocket (the caller's sendSignal); ICE servers come from the server's `match` message.
// Every signal carries the connection's generation (`gen`): when a connection cannot be repaired
// by an ICE restart (restartIce, see p2p/repair.js) or a member's page was reloaded, the server
// hands out the next generation and both sides make a new PeerLink; older signals are stale.
//
// Two data channels, negotiated out of band (same id on both sides, so neither side waits for
// the other to announce them):
//   "igym-game" (id 0): unordered, no retransmits, binary — rollback packets; a lost packet
//                       costs nothing because every packet repeats the unacknowledged inputs;
//   "igym-ctl"  (id 1): reliable and ordered, JSON — pings, health checks, ready / go.

/** @typedef {"new" | "connecting" | "open" | "closed" | "failed"} LinkState */

/**
 * Bytes waiting in the game channel's send buffer beyond which packets are dropped: about one
 * tick's packets. SCTP's congestion control holds packets back on a lossy link even on an
 * unreliable channel; a deeper queue only turns into seconds of delay (every packet repeats
 * the unacknowledged inputs, so the newest one is all the partner needs).
 */
const MAX_BUFFERED = 1200;

export class PeerLink {
  /**
   * @param {{
   *   peer: number,
   *   gen?: number,
   *   polite: boolean,
   *   iceServers: RTCIceServer[],
   *   sendSignal: (data: Record<string, unknown>) => void,
   *   onPacket: (data: ArrayBuffer) => void,
   *   onControl: (message: Record<string, any>) => void,
   *   onState?: (state: LinkState) => void,
   * }} options
   */
  constructor(options) {
    this.peer = options.peer;
    /** the connection's generation (see the header) */
    this.gen = options.gen ?? 0;
    this.polite = options.polite;
    const send = options.sendSignal;
    this.sendSignal = (/** @type {Record<string, unknown>} */ data) => send({ ...data, gen: this.gen });
    this.onPacket = options.onPacket;
    this.onControl = options.onControl;
    this.onState = options.onState ?? (() => {});
    /** @type {LinkState} */
    this.state = "new";
    this.makingOffer = false;
    this.ignoreOffer = false;
    /** counts for diagnostics */
    this.stats = { negotiations: 0, offers: 0, signals_in: 0, signals_out: 0, restarts: 0 };
    /** when a message last arrived from the peer on either channel (performance.now) */
    this.heardAt = -Infinity;
    /** when both channels were last seen open (-Infinity: never yet) */
    this.openedAt = -Infinity;
    this.answerPending = false;
    this.pc = new RTCPeerConnection({ iceServers: options.iceServers });
    /** @type {RTCDataChannel | null} */
    this.game = null;
    /** @type {RTCDataChannel | null} */
    this.ctl = null;
    // The impolite side (lower index) opens the channels at once, which makes it offer; the
    // polite side opens its ends once that offer arrived, so the first negotiation has no glare.
    if (!this.polite) this.openChannels();
    this.pc.addEventListener("negotiationneeded", () => {
      this.stats.negotiations += 1;
      this.offer();
    });
    // A watchdog: not connected after a while (a lost candidate, a stuck negotiation seen under
    // load) -> restart ICE, which renegotiates from scratch; perfect negotiation copes with both
    // sides doing it at once.
    this.kick = setInterval(() => {
      if (this.isOpen || this.pc.signalingState === "closed") return;
      if (!this.polite && this.pc.signalingState === "stable" && !this.pc.remoteDescription && !this.makingOffer) {
        this.offer();
      } else if (["new", "failed", "disconnected"].includes(this.pc.connectionState)) {
        this.stats.restarts += 1;
        this.pc.restartIce();
      }
    }, 3000);
    this.pc.addEventListener("icecandidate", ({ candidate }) => {
      if (!candidate) return;
      this.stats.signals_out += 1;
      this.sendSignal({ candidate: candidate.toJSON() });
    });
    this.pc.addEventListener("connectionstatechange", () => this.updateState());
    this.pc.addEventListener("iceconnectionstatechange", () => {
      if (this.pc.iceConnectionState === "failed") this.pc.restartIce();
    });
    this.updateState();
  }

  openChannels() {
    if (this.game) return;
    const game = this.pc.createDataChannel("igym-game", { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 });
    game.binaryType = "arraybuffer";
    const ctl = this.pc.createDataChannel("igym-ctl", { negotiated: true, id: 1 });
    game.addEventListener("message", (event) => {
      this.heardAt = performance.now();
      if (event.data instanceof ArrayBuffer) this.onPacket(event.data);
      else if (typeof event.data === "string") this.control(event.data);
    });
    ctl.addEventListener("message", (event) => {
      this.heardAt = performance.now();
      this.control(event.data);
    });
    for (const channel of [game, ctl]) {
      channel.addEventListener("open", () => this.updateState());
      channel.addEventListener("close", () => this.updateState());
    }
    this.game = game;
    this.ctl = ctl;
  }

  /** @param {unknown} text a control message (JSON) from either channel */
  control(text) {
    if (typeof text !== "string") return;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message && typeof message === "object") this.onControl(message);
  }

  async offer() {
    try {
      this.makingOffer = true;
      this.stats.offers += 1;
      await this.pc.setLocalDescription();
      this.stats.signals_out += 1;
      this.sendSignal({ description: this.pc.localDescription?.toJSON() });
    } catch (err) {
      console.warn("igym p2p: could not make an offer", err);
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * A signaling message from the other side (relayed by the server).
   * @param {{description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit}} data
   */
  async signal(data) {
    const pc = this.pc;
    this.stats.signals_in += 1;
    try {
      if (data.description) {
        const description = data.description;
        const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.answerPending);
        const collision = description.type === "offer" && !readyForOffer;
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        this.answerPending = description.type === "answer";
        await pc.setRemoteDescription(description);
        this.answerPending = false;
        if (description.type === "offer") {
          this.openChannels();
          await pc.setLocalDescription();
          this.sendSignal({ description: pc.localDescription?.toJSON() });
        }
      } else if (data.candidate) {
        try {
          await pc.addIceCandidate(data.candidate);
        } catch (err) {
          if (!this.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      console.warn(`igym p2p: signaling failed (${data.description?.type ?? "candidate"}, ${pc.signalingState}): ${err}`);
    }
  }

  /** @returns {boolean} both channels are open */
  get isOpen() {
    return this.game?.readyState === "open" && this.ctl?.readyState === "open";
  }

  /** Restart ICE (a connection that went "disconnected" or "failed"; see p2p/repair.js). */
  restartIce() {
    if (this.pc.signalingState === "closed") return;
    this.stats.restarts += 1;
    this.pc.restartIce();
  }

  updateState() {
    /** @type {LinkState} */
    let state = "connecting";
    const pcState = this.pc.connectionState;
    if (this.isOpen) {
      state = "open";
      if (this.state !== "open") this.openedAt = performance.now();
    } else if (pcState === "failed") state = "failed";
    else if (pcState === "closed" || this.game?.readyState === "closed") state = "closed";
    if (state !== this.state) {
      this.state = state;
      this.onState(state);
    }
  }

  /**
   * @param {ArrayBuffer} data
   * @returns {boolean} whether it was handed to the channel; a packet is dropped while the
   *   channel's send buffer is backed up (congestion on a lossy link): the next packet repeats
   *   every input the partner has not acknowledged, so a late one would only add delay
   */
  sendPacket(data) {
    if (!this.game || this.game.readyState !== "open") return false;
    if (this.game.bufferedAmount > MAX_BUFFERED) return false;
    try {
      this.game.send(data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Send a control message on the reliable channel, and with `fast` also twice on the game
   * channel: a lost copy there costs nothing, while the reliable channel's retransmissions can
   * take seconds on a lossy link. Receivers must treat duplicates as harmless.
   * @param {Record<string, unknown>} message
   * @param {{fast?: boolean}} [options]
   * @returns {boolean} whether it went out at all
   */
  sendControl(message, options = {}) {
    const text = JSON.stringify(message);
    let sent = false;
    for (const [channel, copies] of /** @type {[RTCDataChannel | null, number][]} */ ([
      [this.ctl, 1],
      [this.game, options.fast ? 2 : 0],
    ])) {
      if (!channel || channel.readyState !== "open") continue;
      for (let i = 0; i < copies; i += 1) {
        try {
          channel.send(text);
          sent = true;
        } catch {
          // a full or closing channel: the other copies may still go
        }
      }
    }
    return sent;
  }

  close() {
    clearInterval(this.kick);
    this.game?.close();
    this.ctl?.close();
    this.pc.close();
    this.updateState();
  }
}
