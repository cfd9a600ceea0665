// The one WebSocket per page (/ws): hello, events, room join, relay of WebRTC messages, an
// application ping, and reconnect with backoff that resumes state — the server replays the
// current events after hello, and the room is joined again with the same token (same seat).
const PROTOCOL_VERSION = 1;
const PING_MS = 12_000; // the server closes sockets silent for 30 s
const DEAD_MS = 35_000; // nothing heard for this long: the socket is dead even if not closed
const SIGNED_OUT = 4401; // the server closed the socket because its sign-in ended
const RELAYED = new Set(["offer", "answer", "candidate", "bye"]);

export class Signal extends EventTarget {
  constructor({ url } = {}) {
    super();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = url || `${scheme}//${location.host}/ws`;
    this.ws = null;
    this.state = "idle"; // idle | connecting | open | closed
    this.room = null; // {room, token} to rejoin after a reconnect
    this.peerId = null;
    this.attempt = 0;
    this.stopped = false;
    this.lastHeard = 0;
    this.timer = null;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  setState(state) {
    this.state = state;
    this.emit("state", state);
  }

  connect() {
    this.stopped = false;
    this.setState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "hello", version: PROTOCOL_VERSION }));
    };
    ws.onmessage = (message) => this.receive(ws, message.data);
    ws.onclose = (event) => this.closed(ws, event);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.heartbeat(ws), PING_MS);
    return this;
  }

  receive(ws, data) {
    if (ws !== this.ws) return;
    this.lastHeard = Date.now();
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    switch (msg.type) {
      case "welcome":
        this.attempt = 0;
        this.setState("open");
        this.emit("welcome", msg);
        if (this.room) this.sendRaw({ type: "join", room: this.room.room, token: this.room.token });
        break;
      case "ping":
        this.sendRaw({ type: "pong" });
        break;
      case "pong":
        break;
      case "joined":
        this.peerId = msg.peer_id;
        this.emit("joined", msg);
        break;
      case "room-closed":
        if (this.room && this.room.room === msg.room) this.room = null;
        this.emit("room-closed", msg);
        break;
      case "event":
        this.emit("event", msg);
        break;
      default:
        this.emit(msg.type, msg);
    }
  }

  heartbeat(ws) {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastHeard > DEAD_MS) {
      ws.close(4000, "no answer");
      return;
    }
    this.sendRaw({ type: "ping" });
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    clearInterval(this.timer);
    this.peerId = null;
    this.setState("closed");
    this.emit("disconnected", { code: event.code, reason: event.reason });
    if (event.code === SIGNED_OUT) {
      // Logged out (here or in another tab), deactivated, or the password changed: reconnecting
      // would only open an anonymous socket. Back to the sign-in, then here again.
      this.stopped = true;
      location.assign(`/login.html?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
      return;
    }
    if (this.stopped) return;
    const delay = Math.min(5000, 250 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }

  sendRaw(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  /** Relay a WebRTC message to a peer of the room (dropped while reconnecting: ICE restart recovers). */
  relay(type, to, fields) {
    if (!RELAYED.has(type)) throw new Error(`not a relayed type: ${type}`);
    return this.state === "open" && this.sendRaw({ type, to, ...fields });
  }

  join(room, token) {
    this.room = { room, token };
    if (this.state === "open") this.sendRaw({ type: "join", room, token });
  }

  leave() {
    if (this.room) this.sendRaw({ type: "leave" });
    this.room = null;
    this.peerId = null;
  }

  /** Test hook and network-change helper: drop the socket now; it reconnects by itself. */
  drop() { if (this.ws) this.ws.close(4001, "dropped by client"); }

  close() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }
}
