// WebRTC calls over our signalling socket: one RTCPeerConnection per remote seat (a mesh of at
// most three), "perfect negotiation" with the politeness the server assigns (the interpreter is
// polite), trickle ICE, ICE restart after a few seconds in `disconnected`, and recovery when a
// peer's socket drops or its page reloads (a new SDP session id means a new remote peer
// connection: ours is rebuilt to match).
const RESTART_AFTER_MS = 3000;

function sessionId(sdp) {
  const match = /^o=\S+ (\d+) /m.exec(sdp || "");
  return match ? match[1] : null;
}

export async function openLocalMedia(media = "video") {
  const video = media === "video" ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } } : false;
  return navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video });
}

class Link {
  constructor(call, peer) {
    this.call = call;
    this.peerId = peer.peer_id;
    this.peer = peer;
    this.polite = peer.polite;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.remoteSession = null;
    this.restartTimer = null;
    this.stream = new MediaStream();
    this.pc = this.build();
  }

  build() {
    const pc = new RTCPeerConnection({ iceServers: this.call.iceServers, bundlePolicy: "max-bundle" });
    for (const track of this.call.localStream.getTracks()) pc.addTrack(track, this.call.localStream);
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.call.signal.relay("offer", this.peerId, { sdp: pc.localDescription.sdp });
      } catch (error) {
        console.warn("rtc: offer failed", error);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      this.call.signal.relay("candidate", this.peerId, { candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = ({ track }) => {
      this.stream.getTracks().filter((t) => t.kind === track.kind).forEach((t) => this.stream.removeTrack(t));
      this.stream.addTrack(track);
      this.call.emit("remote-stream", { peerId: this.peerId, peer: this.peer, stream: this.stream });
    };
    pc.oniceconnectionstatechange = () => this.iceChanged(pc);
    pc.onconnectionstatechange = () => this.call.emit("peer-state", { peerId: this.peerId, state: pc.connectionState });
    return pc;
  }

  iceChanged(pc) {
    if (pc !== this.pc) return;
    const state = pc.iceConnectionState;
    clearTimeout(this.restartTimer);
    if (state === "failed") this.restart();
    else if (state === "disconnected") {
      this.restartTimer = setTimeout(() => {
        if (["disconnected", "failed"].includes(pc.iceConnectionState)) this.restart();
      }, RESTART_AFTER_MS);
    }
    this.call.emit("ice-state", { peerId: this.peerId, state });
  }

  restart() {
    if (this.pc.signalingState !== "closed") this.pc.restartIce();
  }

  /** The remote started a new peer connection (page reload): start ours afresh too. */
  rebuild() {
    clearTimeout(this.restartTimer);
    this.pc.close();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.remoteSession = null;
    this.stream = new MediaStream();
    this.pc = this.build();
  }

  async onDescription(type, sdp) {
    const session = sessionId(sdp);
    if (type === "offer" && this.remoteSession && session && session !== this.remoteSession) this.rebuild();
    const pc = this.pc;
    const collision = type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    try {
      await pc.setRemoteDescription({ type, sdp }); // implicit rollback when polite and colliding
      if (session) this.remoteSession = session;
      if (type === "offer") {
        await pc.setLocalDescription();
        this.call.signal.relay("answer", this.peerId, { sdp: pc.localDescription.sdp });
      }
    } catch (error) {
      console.warn(`rtc: ${type} not applied`, error);
    }
  }

  async onCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate || undefined);
    } catch (error) {
      if (!this.ignoreOffer) console.warn("rtc: candidate not added", error);
    }
  }

  /** Our socket came back (same page, same peer connection): renegotiate what was lost. */
  async resume() {
    if (this.pc.signalingState === "have-local-offer") {
      await this.pc.setLocalDescription({ type: "rollback" }).catch(() => {});
    }
    if (this.pc.iceConnectionState !== "connected" && this.pc.iceConnectionState !== "completed") this.restart();
  }

  /** The remote's socket came back: an offer of ours sent meanwhile was lost, so withdraw it. */
  async remoteReturned() {
    if (this.pc.signalingState === "have-local-offer") {
      await this.pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      if (this.pc.iceConnectionState !== "connected") this.restart();
    }
  }

  close() {
    clearTimeout(this.restartTimer);
    this.pc.close();
  }
}

export class Call extends EventTarget {
  /** signal: a connected Signal; localStream: from openLocalMedia; the page joins the room itself. */
  constructor({ signal, localStream }) {
    super();
    this.signal = signal;
    this.localStream = localStream;
    this.iceServers = [];
    this.links = new Map();
    this.waiting = new Map(); // peers that joined after us: their offer opens the link (no glare)
    this.ended = false;
    this.handlers = {
      joined: (e) => this.onJoined(e.detail),
      "peer-joined": (e) => this.onPeerJoined(e.detail),
      "peer-left": (e) => this.onPeerLeft(e.detail),
      offer: (e) => this.link(e.detail.from, true)?.onDescription("offer", e.detail.sdp),
      answer: (e) => this.link(e.detail.from)?.onDescription("answer", e.detail.sdp),
      candidate: (e) => this.link(e.detail.from)?.onCandidate(e.detail.candidate),
      bye: (e) => this.dropLink(e.detail.from, "bye"),
      "room-closed": (e) => this.finish(e.detail.reason || "ended"),
      state: (e) => this.emit("signal-state", e.detail),
    };
    for (const [type, fn] of Object.entries(this.handlers)) signal.addEventListener(type, fn);
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  /** The link to a peer; a newcomer's first offer creates it (the newcomer always offers first). */
  link(peerId, create = false) {
    if (!this.links.has(peerId) && create && this.waiting.has(peerId)) {
      this.links.set(peerId, new Link(this, this.waiting.get(peerId)));
      this.waiting.delete(peerId);
    }
    return this.links.get(peerId);
  }

  join(room, token) { this.signal.join(room, token); }

  onJoined(msg) {
    this.iceServers = msg.ice_servers || [];
    this.emit("joined", msg);
    const present = new Set(msg.peers.map((p) => p.peer_id));
    for (const [peerId, link] of this.links) if (!present.has(peerId)) this.dropLink(peerId, "gone");
    for (const peer of msg.peers) {
      const link = this.links.get(peer.peer_id);
      if (link) link.resume();
      else this.links.set(peer.peer_id, new Link(this, peer)); // adding tracks starts the offer
    }
  }

  onPeerJoined({ peer, rejoined }) {
    const link = this.links.get(peer.peer_id);
    this.emit("peer-joined", { peer, rejoined });
    if (link) link.remoteReturned();
    else this.waiting.set(peer.peer_id, peer);
  }

  onPeerLeft({ peer_id: peerId, reason, grace_seconds: grace }) {
    if (reason === "dropped") this.emit("peer-dropped", { peerId, grace });
    else this.dropLink(peerId, reason);
  }

  dropLink(peerId, reason) {
    this.waiting.delete(peerId);
    const link = this.links.get(peerId);
    if (!link) return;
    link.close();
    this.links.delete(peerId);
    this.emit("peer-gone", { peerId, reason, role: link.peer.role });
  }

  setMuted(muted) { this.localStream.getAudioTracks().forEach((t) => { t.enabled = !muted; }); }

  setCameraOff(off) { this.localStream.getVideoTracks().forEach((t) => { t.enabled = !off; }); }

  /** Hang up: say bye to every peer, leave the room, release camera and microphone. */
  hangup() {
    for (const peerId of this.links.keys()) this.signal.relay("bye", peerId, { reason: "hangup" });
    this.signal.leave();
    this.finish("hangup");
  }

  finish(reason) {
    if (this.ended) return;
    this.ended = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const [type, fn] of Object.entries(this.handlers)) this.signal.removeEventListener(type, fn);
    this.localStream.getTracks().forEach((t) => t.stop());
    this.emit("ended", { reason });
  }

  /** Sum of inbound-rtp counters over all peers (tests and the quality indicator use deltas). */
  async inboundTotals() {
    const totals = { bytesReceived: 0, framesDecoded: 0, packetsReceived: 0, packetsLost: 0, rtt: null };
    for (const link of this.links.values()) {
      const stats = await link.pc.getStats();
      stats.forEach((s) => {
        if (s.type === "inbound-rtp") {
          totals.bytesReceived += s.bytesReceived || 0;
          totals.framesDecoded += s.framesDecoded || 0;
          totals.packetsReceived += s.packetsReceived || 0;
          totals.packetsLost += Math.max(0, s.packetsLost || 0);
        } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.currentRoundTripTime !== undefined) {
          totals.rtt = Math.max(totals.rtt || 0, s.currentRoundTripTime);
        }
      });
    }
    return totals;
  }
}

/** Rate the connection from two samples of inboundTotals: "good" | "fair" | "poor" | "none". */
export function qualityLevel(before, after) {
  if (!after || after.rtt === null) return "none";
  const received = after.packetsReceived - before.packetsReceived;
  const lost = after.packetsLost - before.packetsLost;
  const loss = received + lost > 0 ? lost / (received + lost) : 0;
  if (received <= 0) return "poor";
  if (after.rtt < 0.3 && loss < 0.02) return "good";
  if (after.rtt < 0.6 && loss < 0.08) return "fair";
  return "poor";
}
