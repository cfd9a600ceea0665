// One call session for every page that joins a call (counter, interpreter console, guest link):
// local media with the request's constraints (audio only opens no camera), the peer
// connections (rtc.js: perfect negotiation, ICE restart, the seat resumed after a socket drop),
// the call view with mute, camera and hang-up (callview.js), the one "media flows" report to the
// server, and leaving. The pages only decide what a call means for their own screen.
//
// Events: "remote" (the first remote picture or sound), "hangup" (the person pressed "end"),
// "ended" (the call ended without us: the room closed, the socket gave up; detail.reason).
import { api } from "./api.js";
import { Call, openLocalMedia } from "./rtc.js";
import { mountCallView } from "./callview.js";

export class CallSession extends EventTarget {
  /** signal: the page's Signal; root: where the call view goes. */
  constructor({ signal, root }) {
    super();
    this.signal = signal;
    this.root = root;
    this.call = null;
    this.join = null;
    this.joining = false;
  }

  /** A call is running (not yet ended). */
  get active() { return Boolean(this.call && !this.call.ended); }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  /**
   * Join the room of `join` (room_id, token, request_id as the server's join decision gave
   * them) with `media` ("video" | "audio"). Returns the mounted call view, or null while an
   * earlier join still waits for camera and microphone.
   */
  async start(join, media = "video") {
    if (this.joining) return null;
    this.joining = true;
    let localStream;
    try { localStream = await openLocalMedia(media); } finally { this.joining = false; }
    const call = new Call({ signal: this.signal, localStream });
    this.call = call;
    this.join = join;
    if (window.__vd) window.__vd.call = call;
    const view = mountCallView(this.root, { call, media, onEnd: () => this.emit("hangup") });
    let reported = false;
    call.addEventListener("remote-stream", () => {
      this.emit("remote");
      // The server counts a call as connected once media flows; one report per call is enough.
      if (!reported && join.request_id) {
        reported = true;
        api(`/api/requests/${join.request_id}/connected`, { method: "POST" }).catch(() => {});
      }
    });
    call.addEventListener("ended", ({ detail }) => {
      if (detail.reason !== "hangup" && this.call === call) this.emit("ended", detail);
    });
    call.join(join.room_id, join.token);
    return view;
  }

  /**
   * Leave: bye to every peer, camera and microphone released, the view removed. With
   * `report` the server hears that this side ended the call.
   */
  async stop({ report = false } = {}) {
    const { call, join } = this;
    this.call = null;
    this.join = null;
    if (call && !call.ended) call.hangup();
    this.root.replaceChildren();
    if (report && join?.request_id) {
      await api(`/api/requests/${join.request_id}/end`, { method: "POST" }).catch(() => {});
    }
  }
}
