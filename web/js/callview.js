// The call view shared by counter, interpreter and guest pages: local and remote videos,
// mute / camera off / end, a connection-quality indicator from getStats, peer notices.
import { el, showStatus } from "./dom.js";
import { onLocaleChange, t } from "./i18n.js";
import { qualityLevel } from "./rtc.js";

const SAMPLE_MS = 2000;

export function mountCallView(root, { call, media = "video", onEnd }) {
  const audioOnly = media !== "video";
  const local = el("video", { autoplay: true, playsinline: true, id: "local-video", "data-i18n-attr": "aria-label:call.local" });
  local.muted = true;
  local.srcObject = call.localStream;
  const remotes = el("div", { class: "videos", id: "remote-videos" });
  const notice = el("p", { class: "status", role: "status", "aria-live": "polite", id: "call-notice" });
  const quality = el("p", { class: "quality", id: "call-quality", "data-level": "none", "aria-live": "off" });
  const mute = el("button", { type: "button", id: "call-mute", "aria-pressed": "false" });
  const camera = el("button", { type: "button", id: "call-camera", "aria-pressed": "false", hidden: audioOnly || null });
  const end = el("button", { type: "button", id: "call-end", class: "danger" });
  // The remote seats fill the stage; the own picture sits small in its corner (see app.css).
  const view = el("section", { class: `call card${audioOnly ? " audio" : ""}`, "aria-labelledby": "call-h" },
    el("h2", { id: "call-h", tabindex: "-1" }),
    notice,
    el("div", { class: "stage" }, remotes,
      el("figure", { class: "own", hidden: audioOnly || null }, local, el("figcaption", { id: "local-caption" }))),
    el("div", { class: "controls" }, mute, camera, end, quality));
  root.replaceChildren(view);

  const label = () => {
    view.querySelector("#call-h").textContent = t(audioOnly ? "call.heading_audio" : "call.heading");
    view.querySelector("#local-caption").textContent = t("call.you");
    local.setAttribute("aria-label", t("call.local"));
    // Toggle buttons (ARIA APG): the label names the state that "pressed" turns on and never
    // changes; aria-pressed and the look say whether it is on.
    mute.textContent = t("call.mute");
    camera.textContent = t("call.camera_off");
    end.textContent = t("call.end");
    quality.textContent = t(`call.quality_${quality.dataset.level}`);
    remotes.querySelectorAll("figcaption").forEach((c) => { c.textContent = t(`seat.${c.dataset.role}`); });
  };
  label();
  onLocaleChange(label);

  mute.addEventListener("click", () => {
    const on = mute.getAttribute("aria-pressed") !== "true";
    mute.setAttribute("aria-pressed", String(on));
    call.setMuted(on);
  });
  camera.addEventListener("click", () => {
    const on = camera.getAttribute("aria-pressed") !== "true";
    camera.setAttribute("aria-pressed", String(on));
    call.setCameraOff(on);
  });
  end.addEventListener("click", () => onEnd());

  call.addEventListener("remote-stream", ({ detail }) => {
    let video = remotes.querySelector(`[data-peer="${detail.peerId}"]`);
    if (!video) {
      video = el("video", { autoplay: true, playsinline: true, "data-peer": detail.peerId, class: "remote-video",
        "aria-label": t(`seat.${detail.peer.role}`) });
      remotes.append(el("figure", { "data-figure": detail.peerId }, video,
        el("figcaption", { "data-role": detail.peer.role }, t(`seat.${detail.peer.role}`))));
    }
    if (video.srcObject !== detail.stream) video.srcObject = detail.stream;
    video.play().catch(() => {});
    showStatus(notice, t("call.connected"), "ok");
  });
  call.addEventListener("peer-dropped", () => showStatus(notice, t("call.peer_reconnecting")));
  call.addEventListener("peer-gone", ({ detail }) => {
    remotes.querySelector(`[data-figure="${detail.peerId}"]`)?.remove();
    showStatus(notice, t(`call.peer_left_${detail.role}`));
  });
  call.addEventListener("signal-state", ({ detail }) => {
    if (detail === "closed") showStatus(notice, t("call.reconnecting"));
  });

  let before = null;
  const timer = setInterval(async () => {
    if (call.ended) return;
    const after = await call.inboundTotals();
    if (before) {
      quality.dataset.level = qualityLevel(before, after);
      quality.textContent = t(`call.quality_${quality.dataset.level}`);
    }
    before = after;
  }, SAMPLE_MS);
  call.addEventListener("ended", () => clearInterval(timer));
  showStatus(notice, t("call.connecting"));
  // The person just started a call: bring it whole into view with focus on its heading.
  view.querySelector("#call-h").focus({ preventScroll: true });
  // After this frame: scrolling inside the click that started the call stalled Chromium's click
  // (the guest journey's "Teilnehmen" never returned).
  requestAnimationFrame(() => view.scrollIntoView({ block: "start" }));
  return view;
}
