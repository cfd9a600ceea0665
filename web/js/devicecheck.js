// Device check before the first call: camera and microphone through a server-side echo peer
// (POST /api/rtc/echo). The echo comes back over the network, so the check covers the path too.
import { api } from "./api.js";
import { el, showStatus } from "./dom.js";
import { t } from "./i18n.js";
import { openLocalMedia } from "./rtc.js";

const GATHER_MS = 2000; // the echo peer (aiortc) takes no trickled candidates: gather first

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_MS);
  });
}

function levelMeter(stream, meter) {
  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 512;
  audio.createMediaStreamSource(stream).connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  let peak = 0;
  const timer = setInterval(() => {
    analyser.getByteTimeDomainData(samples);
    const level = Math.max(...samples.map((s) => Math.abs(s - 128))) / 128;
    peak = Math.max(peak, level);
    meter.value = level;
  }, 100);
  return { stop: () => { clearInterval(timer); audio.close(); }, peak: () => peak };
}

/** Run the check inside `root`; resolves {ok, video, audioLevel} after `seconds`. */
export async function runDeviceCheck(root, { media = "video", seconds = 6 } = {}) {
  const status = el("p", { class: "status", role: "status", "aria-live": "polite", id: "check-status" });
  const echo = el("video", { autoplay: true, playsinline: true, id: "echo-video", "aria-label": t("check.echo_video") });
  const meterId = "check-meter";
  const meter = el("meter", { id: meterId, class: "meter", min: 0, max: 1, value: 0 });
  // Audio only: no picture box (it would stay black); the echo still plays the sound back.
  const audioOnly = media !== "video";
  root.replaceChildren(el("div", { class: "videos", hidden: audioOnly || null },
    el("figure", {}, echo, el("figcaption", {}, t("check.echo_caption")))),
  el("p", {}, el("label", { for: meterId }, t("check.microphone")), meter), status);
  showStatus(status, t("check.running"));
  let stream;
  let pc;
  let meterHandle;
  try {
    stream = await openLocalMedia(media);
    meterHandle = levelMeter(stream, meter);
    pc = new RTCPeerConnection({ iceServers: [] });
    stream.getTracks().forEach((track) => pc.addTrack(track, stream));
    pc.ontrack = ({ streams, track }) => { echo.srcObject = streams[0] || new MediaStream([track]); };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await api("/api/rtc/echo", { method: "POST", body: { sdp: pc.localDescription.sdp, type: "offer" } });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    let bytes = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp") bytes += s.bytesReceived || 0; });
    const ok = bytes > 0;
    const result = { ok, video: media === "video" && echo.videoWidth > 0, audioLevel: meterHandle.peak(), bytes };
    showStatus(status, t(!ok ? "check.failed" : audioOnly ? "check.ok_audio" : "check.ok"), ok ? "ok" : "error");
    return result;
  } catch (error) {
    const key = error.name === "NotAllowedError" ? "check.denied" : error.status === 503 ? "check.busy" : "check.failed";
    showStatus(status, t(key), "error");
    return { ok: false, error: String(error) };
  } finally {
    meterHandle?.stop();
    pc?.close();
    stream?.getTracks().forEach((track) => track.stop());
  }
}
