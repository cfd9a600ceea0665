// The interpreter console: presence switch, incoming offers (sound, details, countdown),
// accept / decline, the call, wrap-up. A reload mid-call fetches a fresh join token and takes
// the same seat again; the other side renegotiates.
import { api, ApiError, newIdempotencyKey } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { languageName, onLocaleChange, t } from "./i18n.js";
import { startPage } from "./shell.js";
import { Signal } from "./socket.js";
import { Call, openLocalMedia } from "./rtc.js";
import { mountCallView } from "./callview.js";
import { ring } from "./beep.js";
import { loadBookings, loadMinutes, startSchedule } from "./schedule.js";

const STORE = "vd.interpreter.call";
const state = { me: null, languages: [], purposes: [], offer: null, stopRing: null, countdown: null, call: null, status: null };
const signal = new Signal();
window.__vd = { signal, state };
const statusNode = () => $("#interp-status");

function nameOf(list, code) {
  const item = list.find((x) => x.code === code);
  return item ? languageName(item) : code;
}

// --- presence -------------------------------------------------------------------------------
function showPresence(status) {
  state.status = status;
  $("#status-now").textContent = t("interp.status_now", { status: t(`istatus.${status}`) });
  for (const button of [$("#status-available"), $("#status-away")]) {
    button.setAttribute("aria-pressed", String(button.dataset.status === status));
  }
  document.body.dataset.status = status;
}

async function setPresence(status) {
  try {
    const read = await api("/api/interpreter/status", { method: "PUT", body: { status } });
    showPresence(read.status);
  } catch (error) {
    showStatus(statusNode(), t("error.with_detail", { detail: error.message }), "error");
  }
}

// --- offers ---------------------------------------------------------------------------------
function showOffer(offer) {
  if (state.call) return;
  hideOffer();
  state.offer = offer;
  const rows = [
    ["offer.language", nameOf(state.languages, offer.language_code)],
    ["offer.office_kind", offer.office_kind ? t(`office_kind.${offer.office_kind}`) : t("offer.unknown")],
    ["offer.purpose", nameOf(state.purposes, offer.purpose)],
    ["offer.media", t(`media.${offer.media || "video"}`)],
    ["offer.mode", t(`mode.${offer.mode || "on_demand"}`)],
  ];
  if (offer.priority === "urgent") rows.push(["offer.priority", t("offer.urgent")]);
  $("#offer-details").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-field": k }, v)]));
  $("#offer").hidden = false;
  const deadline = new Date(offer.expires_at).getTime();
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    $("#offer-countdown").textContent = t("offer.seconds", { seconds: left });
    if (left <= 0) hideOffer();
  };
  tick();
  state.countdown = setInterval(tick, 500);
  state.stopRing = ring();
  $("#offer-accept").focus();
  document.body.dataset.offer = String(offer.offer_id);
}

function hideOffer() {
  clearInterval(state.countdown);
  state.stopRing?.();
  state.stopRing = null;
  state.offer = null;
  $("#offer").hidden = true;
  delete document.body.dataset.offer;
}

async function accept() {
  const offer = state.offer;
  if (!offer) return;
  hideOffer();
  try {
    const accepted = await api(`/api/offers/${offer.offer_id}/accept`, { method: "POST", headers: { "Idempotency-Key": newIdempotencyKey() } });
    await joinCall(accepted.join, accepted.request.media);
  } catch (error) {
    const key = error instanceof ApiError && error.status === 409 ? "offer.gone" : null;
    showStatus(statusNode(), key ? t(key) : t("error.with_detail", { detail: error.message }), "error");
  }
}

async function decline() {
  const offer = state.offer;
  if (!offer) return;
  hideOffer();
  await api(`/api/offers/${offer.offer_id}/decline`, { method: "POST" }).catch(() => {});
  showStatus(statusNode(), t("offer.declined"));
}

// --- the call -------------------------------------------------------------------------------
async function joinCall(join, media = "video") {
  if (state.joining || (state.call && !state.call.ended)) return;
  state.joining = true;
  sessionStorage.setItem(STORE, JSON.stringify({ request_id: join.request_id, media }));
  $("#wrapup").hidden = true;
  let localStream;
  try { localStream = await openLocalMedia(media); } finally { state.joining = false; }
  const call = new Call({ signal, localStream });
  state.call = call;
  window.__vd.call = call;
  mountCallView($("#call-area"), { call, media, onEnd: () => endCall(true) });
  let marked = false;
  call.addEventListener("remote-stream", () => {
    if (!marked) { marked = true; api(`/api/requests/${join.request_id}/connected`, { method: "POST" }).catch(() => {}); }
  });
  call.addEventListener("ended", ({ detail }) => { if (detail.reason !== "hangup") endCall(false); });
  call.join(join.room_id, join.token);
  document.body.dataset.view = "call";
}

async function endCall(byMe) {
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  const call = state.call;
  state.call = null;
  if (call && !call.ended) call.hangup();
  sessionStorage.removeItem(STORE);
  $("#call-area").replaceChildren();
  if (byMe && saved) await api(`/api/requests/${saved.request_id}/end`, { method: "POST" }).catch(() => {});
  document.body.dataset.view = "wrapup";
  $("#wrapup").hidden = false;
  $("#wrapup-text").textContent = t("wrapup.text");
  $("#wrapup-h").tabIndex = -1;
  $("#wrapup-h").focus();
  loadMinutes();
}

async function resumeCall() {
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  if (!saved) return;
  try {
    const join = await api(`/api/requests/${saved.request_id}/join`);
    await joinCall(join, saved.media);
  } catch {
    sessionStorage.removeItem(STORE);
  }
}

// --- events ---------------------------------------------------------------------------------
function onEvent({ detail }) {
  const event = detail.event;
  switch (event.type) {
    case "offer":
      if (!detail.replay || new Date(event.expires_at) > new Date()) showOffer(event);
      break;
    case "offer-revoked":
      if (state.offer && state.offer.offer_id === event.offer_id) {
        hideOffer();
        showStatus(statusNode(), t(`offer.revoked_${event.reason === "taken" ? "taken" : "other"}`));
      }
      break;
    case "request-status":
      if (state.call && ["completed", "failed", "cancelled"].includes(event.status)) endCall(false);
      break;
    case "call-join":
      if (!state.call) joinCall(event, event.media || "video");
      break;
    case "interpreter-status":
      showPresence(event.status);
      if (event.reason === "missed_offers") showStatus(statusNode(), t("interp.auto_away"), "error");
      break;
    case "booking":
      loadBookings();
      if (event.kind === "booking_room_open") openBookedCall(event.booking_id);
      else showStatus(statusNode(), t(`booking.event_${event.kind}`, { time: event.start || "" }));
      break;
    default:
  }
}

async function openBookedCall(bookingId) {
  try {
    const join = await api(`/api/requests/${bookingId}/join`);
    await joinCall(join);
  } catch (error) {
    showStatus(statusNode(), t("error.with_detail", { detail: error.message }), "error");
  }
}

async function main() {
  state.me = await startPage({ roles: ["interpreter"], titleKey: "interp.heading" });
  const [languages, purposes, status] = await Promise.all([
    api("/api/languages"), api("/api/purposes"), api("/api/interpreter/status").catch(() => ({ status: "offline" })),
  ]);
  Object.assign(state, { languages, purposes });
  showPresence(status.status);
  $("#status-available").addEventListener("click", () => setPresence("available"));
  $("#status-away").addEventListener("click", () => setPresence("away"));
  $("#offer-accept").addEventListener("click", accept);
  $("#offer-decline").addEventListener("click", decline);
  $("#offer").addEventListener("keydown", (e) => { if (e.key === "Escape") decline(); });
  $("#wrapup-done").addEventListener("click", async () => {
    const read = await api("/api/interpreter/wrap-up/end", { method: "POST" }).catch(() => null);
    $("#wrapup").hidden = true;
    if (read) showPresence(read.status);
    document.body.dataset.view = "idle";
  });
  signal.addEventListener("event", onEvent);
  signal.addEventListener("state", ({ detail }) => { $("#socket-state").textContent = t(`socket.${detail}`); });
  onLocaleChange(() => { showPresence(state.status); if (state.offer) showOffer(state.offer); });
  signal.connect();
  await resumeCall();
  await startSchedule(state.me, statusNode());
  document.body.dataset.loaded = "1";
}

main();
