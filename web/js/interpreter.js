// The interpreter console: presence switch, incoming offers (sound, details, countdown),
// accept / decline, the call, wrap-up. A reload mid-call fetches a fresh join token and takes
// the same seat again; the other side renegotiates.
import { api, errorText, newIdempotencyKey } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { fmtNumber, languageName, onLocaleChange, t } from "./i18n.js";
import { startPage } from "./shell.js";
import { Signal } from "./socket.js";
import { CallSession } from "./callsession.js";
import { ring } from "./beep.js";
import { loadBookings, loadMinutes, startSchedule } from "./schedule.js";

const STORE = "vd.interpreter.call";
const state = { me: null, languages: [], purposes: [], offer: null, stopRing: null, countdown: null, status: null };
const signal = new Signal();
const session = new CallSession({ signal, root: $("#call-area") });
window.__vd = { signal, state };
// The statuses' meaning comes from the server's lifecycle (GET /api/requests/lifecycle).
const lifecycle = { final: new Set() };
const statusNode = () => $("#interp-status");

function nameOf(list, code) {
  const item = list.find((x) => x.code === code);
  return item ? languageName(item) : code;
}

// --- presence -------------------------------------------------------------------------------
// The status line and the pressed switch only ever show what the server last said: it sends an
// `interpreter-status` event for every change (offer, call, wrap-up, back to available).
function showPresence(status, { wrapUpUntil = null, reason = null } = {}) {
  const before = state.status;
  state.status = status;
  $("#status-now").textContent = t("interp.status_now", { status: t(`istatus.${status}`) });
  for (const button of [$("#status-available"), $("#status-away")]) {
    button.setAttribute("aria-pressed", String(button.dataset.status === status));
  }
  document.body.dataset.status = status;
  if (status === "wrap_up") showWrapUp(wrapUpUntil);
  else if (before === "wrap_up" || !$("#wrapup").hidden) hideWrapUp(reason === "wrap_up_over");
}

function showWrapUp(until) {
  clearInterval(state.wrapTimer);
  const box = $("#wrapup");
  const first = box.hidden;
  // A later read without the end time (GET status) keeps the end the event told us.
  if (until) state.wrapUntil = until;
  else if (first) state.wrapUntil = null;
  until = state.wrapUntil;
  box.hidden = false;
  document.body.dataset.view = "wrapup";
  const deadline = until ? new Date(until).getTime() : null;
  const tick = () => {
    const left = deadline === null ? null : Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    $("#wrapup-text").textContent = left === null ? t("wrapup.text")
      : t("wrapup.countdown", { seconds: fmtNumber(left) });
  };
  tick();
  if (deadline !== null) state.wrapTimer = setInterval(tick, 1000);
  if (first) revealWrapUp();
}

/** Bring the wrap-up into the window and focus its heading. Called again once the call view is gone:
 *  removing it shifts the box up by the call's height, past the top of a console scrolled down. */
function revealWrapUp() {
  const box = $("#wrapup");
  if (box.hidden) return;
  box.scrollIntoView({ block: "nearest" });
  focusOn($("#wrapup-h"), { preventScroll: true });
}

function hideWrapUp(timedOut) {
  clearInterval(state.wrapTimer);
  const box = $("#wrapup");
  const hadFocus = box.contains(document.activeElement) || document.activeElement === document.body;
  box.hidden = true;
  if (document.body.dataset.view === "wrapup") document.body.dataset.view = "idle";
  if (timedOut) showStatus(statusNode(), t("wrapup.over"));
  if (hadFocus) focusOn($("#presence-h"));
}

/** Move focus to a heading or container that is not focusable by itself. */
function focusOn(node, options = {}) {
  if (!node) return;
  if (!node.hasAttribute("tabindex")) node.tabIndex = -1;
  node.focus(options);
}

/** When a wrap-up read from GET /api/interpreter/status runs out (the server sends its length). */
function wrapUpUntil(read) {
  // The wrap-up's length comes with the wrap-up event; a reload remembers the last one told.
  const seconds = read.wrap_up_seconds ?? Number(localStorage.getItem("vd.wrap_up_seconds") || NaN);
  if (read.status !== "wrap_up" || !read.status_changed_at || !Number.isFinite(seconds)) return null;
  return new Date(new Date(read.status_changed_at).getTime() + seconds * 1000).toISOString();
}

async function refreshStatus() {
  try {
    const read = await api("/api/interpreter/status");
    showPresence(read.status, { wrapUpUntil: wrapUpUntil(read) });
  } catch { /* the next event brings it */ }
}

async function setPresence(status) {
  try {
    const read = await api("/api/interpreter/status", { method: "PUT", body: { status } });
    showPresence(read.status);
  } catch (error) {
    showStatus(statusNode(), errorText(error), "error");
  }
}

// --- offers ---------------------------------------------------------------------------------
// The card must read at a glance under a 20-second countdown: the language big, then office,
// purpose, audio/video and what kind of request it is, one fact a line.
function showOffer(offer) {
  if (session.active) return;
  const returnTo = state.offer ? state.returnFocus : document.activeElement;
  hideOffer({ restoreFocus: false });
  state.offer = offer;
  state.returnFocus = returnTo;
  const language = state.languages.find((x) => x.code === offer.language_code);
  const big = $("#offer-language");
  big.textContent = nameOf(state.languages, offer.language_code);
  if (language?.name_native && language.name_native !== big.textContent) {
    big.append(" ", el("span", { class: "native", lang: nativeLang(language), dir: language.rtl ? "rtl" : "ltr" }, language.name_native));
  }
  const rows = [
    ["offer.office_kind", offer.office_kind ? t(`office_kind.${offer.office_kind}`) : t("offer.unknown")],
    ["offer.purpose", nameOf(state.purposes, offer.purpose)],
    ["offer.media", t(`media.${offer.media || "video"}`)],
    ["offer.mode", t(offer.escalated_booking ? "offer.escalated" : `mode.${offer.mode || "on_demand"}`)],
  ];
  if (offer.priority === "urgent") rows.push(["offer.priority", t("offer.urgent")]);
  $("#offer-details").replaceChildren(...rows.map(([k, v]) => el("div", { class: "fact" },
    el("dt", {}, t(k)), el("dd", { "data-field": k }, v))));
  $("#offer").hidden = false;
  setBehindOfferInert(true);
  const deadline = new Date(offer.expires_at).getTime();
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    $("#offer-countdown").textContent = t("offer.seconds", { seconds: fmtNumber(left) });
    if (left <= 0) hideOffer();
  };
  tick();
  state.countdown = setInterval(tick, 500);
  state.stopRing = ring();
  // Focus the dialog, not "Annehmen": a Space or Enter typed for something else must not accept.
  focusOn($("#offer"));
  document.body.dataset.offer = String(offer.offer_id);
}

/** A sign language has no spoken text: its label is German. */
function nativeLang(language) { return language.sign_language || language.code === "gsg" ? "de" : language.code; }

function hideOffer({ restoreFocus = true } = {}) {
  clearInterval(state.countdown);
  state.stopRing?.();
  state.stopRing = null;
  const wasOpen = !$("#offer").hidden;
  const hadFocus = $("#offer").contains(document.activeElement);
  state.offer = null;
  $("#offer").hidden = true;
  setBehindOfferInert(false);  // before focus goes back: an inert element cannot take it
  delete document.body.dataset.offer;
  if (wasOpen && restoreFocus && hadFocus) {
    const back = state.returnFocus;
    if (back && back !== document.body && back.isConnected && !back.closest("[hidden]")) back.focus();
    else focusOn($("#presence-h"));
  }
  state.returnFocus = null;
}

/** While the offer is open everything else is inert: no click, Tab or screen reader reaches the
 *  presence buttons or a half-typed form behind it, as aria-modal promises. */
function setBehindOfferInert(inert) {
  const offer = $("#offer");
  for (const node of [...document.body.children, ...offer.parentElement.children]) {
    if (node !== offer && !node.contains(offer) && node.tagName !== "SCRIPT") node.inert = inert;
  }
}

/** The offer is a modal alert dialog: Tab and Shift+Tab stay inside it; Escape declines. */
function trapOfferKeys(event) {
  if (event.key === "Escape") { event.preventDefault(); decline(); return; }
  if (event.key !== "Tab") return;
  const buttons = [$("#offer-accept"), $("#offer-decline")];
  const at = buttons.indexOf(document.activeElement);
  event.preventDefault();
  const next = event.shiftKey ? (at <= 0 ? buttons.length - 1 : at - 1) : (at + 1) % buttons.length;
  buttons[next].focus();
}

async function accept() {
  const offer = state.offer;
  if (!offer) return;
  hideOffer({ restoreFocus: false });
  try {
    const accepted = await api(`/api/offers/${offer.offer_id}/accept`, { method: "POST", headers: { "Idempotency-Key": newIdempotencyKey() } });
    await joinCall(accepted.join, accepted.join.media);
  } catch (error) {
    showStatus(statusNode(), errorText(error), "error");
    focusOn($("#presence-h"));
  }
}

async function decline() {
  const offer = state.offer;
  if (!offer) return;
  hideOffer();
  try {
    await api(`/api/offers/${offer.offer_id}/decline`, { method: "POST" });
    showStatus(statusNode(), t("offer.declined"));
  } catch (error) {
    showStatus(statusNode(), errorText(error), "error");
  }
}

// --- the call -------------------------------------------------------------------------------
// The call itself is the shared CallSession; the console remembers which request it serves (a
// reload takes the same seat again) and goes to wrap-up afterwards.
async function joinCall(join, media = "video") {
  if (session.joining || session.active) return;
  sessionStorage.setItem(STORE, JSON.stringify({ request_id: join.request_id, media }));
  hideWrapUp(false);
  const view = await session.start(join, media);
  if (!view) return;
  focusOn(view.querySelector("#call-h"));
  document.body.dataset.view = "call";
}

function wireSession() {
  session.addEventListener("hangup", () => endCall(true));
  session.addEventListener("ended", () => endCall(false));
}

async function endCall(byMe) {
  await session.stop({ report: byMe });
  sessionStorage.removeItem(STORE);
  document.body.dataset.view = "idle";
  // The server's wrap-up event opens the wrap-up box; until then focus must not fall to the page.
  await refreshStatus();
  if (state.status === "wrap_up") revealWrapUp();
  else focusOn($("#presence-h"));
  loadMinutes();
}

async function resumeCall() {
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  if (!saved) return;
  try {
    const join = await api(`/api/requests/${saved.request_id}/join`);
    await joinCall(join, join.media);
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
      if (session.active && lifecycle.final.has(event.status)) endCall(false);
      break;
    case "call-join":
      if (!session.active) joinCall(event, event.media || "video");
      break;
    case "interpreter-status":
      if (event.wrap_up_seconds != null) localStorage.setItem("vd.wrap_up_seconds", String(event.wrap_up_seconds));
      showPresence(event.status, { wrapUpUntil: event.wrap_up_until, reason: event.reason });
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
    await joinCall(join, join.media);
  } catch (error) {
    showStatus(statusNode(), errorText(error), "error");
  }
}

async function main() {
  state.me = await startPage({ roles: ["interpreter"], titleKey: "interp.heading" });
  const [languages, purposes, status, sets] = await Promise.all([
    api("/api/languages"), api("/api/purposes"), api("/api/interpreter/status").catch(() => ({ status: "offline" })),
    api("/api/requests/lifecycle"),
  ]);
  Object.assign(state, { languages, purposes });
  lifecycle.final = new Set(sets.final);
  showPresence(status.status, { wrapUpUntil: wrapUpUntil(status) });
  $("#status-available").addEventListener("click", () => setPresence("available"));
  $("#status-away").addEventListener("click", () => setPresence("away"));
  $("#offer-accept").addEventListener("click", accept);
  $("#offer-decline").addEventListener("click", decline);
  $("#offer").addEventListener("keydown", trapOfferKeys);
  $("#wrapup-done").addEventListener("click", async () => {
    try {
      const read = await api("/api/interpreter/wrap-up/end", { method: "POST" });
      showPresence(read.status);
      focusOn($("#presence-h"));
    } catch (error) {
      showStatus(statusNode(), errorText(error), "error");
    }
  });
  wireSession();
  signal.addEventListener("event", onEvent);
  // After a reconnect the server's status may have moved on without us: ask again.
  signal.addEventListener("welcome", () => refreshStatus());
  signal.addEventListener("state", ({ detail }) => { $("#socket-state").textContent = t(`socket.${detail}`); });
  onLocaleChange(() => { showPresence(state.status); if (state.offer) showOffer(state.offer); });
  signal.connect();
  await resumeCall();
  await startSchedule(state.me, statusNode());
  document.body.dataset.loaded = "1";
}

main();
