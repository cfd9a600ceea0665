// The counter (caseworker): choose language and purpose, "interpret now" or book, wait, talk,
// rate. The request id and the call's join information survive a reload (sessionStorage), and
// the server replays the current state after the socket's hello; a request still waiting when the
// browser was closed comes back with that replay.
import { api, errorText, newIdempotencyKey } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { fmtNumber, languageName, onLocaleChange, t } from "./i18n.js";
import { startPage } from "./shell.js";
import { Signal } from "./socket.js";
import { CallSession } from "./callsession.js";
import { runDeviceCheck } from "./devicecheck.js";
import { LanguagePicker, waitText } from "./picker.js";
import { clientLanguages, openChannel, renderNotice } from "./clientnotice.js";
import { openBooking } from "./booking.js";
import { mountMyBookings, refreshMyBookings } from "./mybookings.js";

const STORE = "vd.counter.request";
const TIERS_REFRESH_MS = 20000;
// The statuses' meaning comes from the server's lifecycle (GET /api/requests/lifecycle).
const lifecycle = { cancellable: new Set(), final: new Set() };
const SECTIONS = ["choose", "booking", "waiting", "rating"];
const state = { me: null, languages: [], purposes: [], language: null, request: null, clientState: "welcome" };
let clientNotices = new Set();
const signal = new Signal();
const session = new CallSession({ signal, root: $("#call-area") });
const channel = openChannel();
window.__vd = { signal, state };

function section(id) {
  SECTIONS.forEach((s) => { $(`#${s}`).hidden = s !== id; });
  $("#guest").hidden = id !== "call";
  if (id !== "call") $("#call-area").replaceChildren();
  const heading = id === "call" ? $("#call-h") : $(`#${id}-h`);
  if (heading) focusOn(heading);
  document.body.dataset.view = id;
}

function focusOn(node) {
  if (!node.hasAttribute("tabindex")) node.tabIndex = -1;
  node.focus();
}

// --- client screen ------------------------------------------------------------------------
// The client may pick their own language on the client screen; that pick holds until the
// caseworker chooses a different interpreting language (a new client).
function clientLang() { return sessionStorage.getItem("vd.client.lang") || state.language?.code || "en"; }

async function tellClient(clientState) {
  if (clientState) state.clientState = clientState;
  channel?.postMessage({ kind: "state", state: state.clientState, lang: clientLang() });
  if (!$("#client-panel").hidden) await renderNotice($("#client-panel-notice"), $("#client-panel-sub"), clientLang(), state.clientState);
}

function wireClientScreen() {
  channel?.addEventListener("message", ({ data }) => {
    if (data.kind === "hello") tellClient();
    if (data.kind === "lang") { sessionStorage.setItem("vd.client.lang", data.lang); tellClient(); }
  });
  $("#client-here").addEventListener("click", (e) => {
    const on = e.target.getAttribute("aria-pressed") !== "true";
    e.target.setAttribute("aria-pressed", String(on));
    $("#client-panel").hidden = !on;
    tellClient();
  });
  $("#client-window").addEventListener("click", () => {
    window.open(`/client.html?lang=${encodeURIComponent(clientLang())}&state=${state.clientState}`, "vd-client", "popup");
  });
}

// --- device check -------------------------------------------------------------------------
function wireDeviceCheck() {
  $("#check-hint").hidden = Boolean(localStorage.getItem("vd.checked"));
  $("#check-open").addEventListener("click", () => {
    // In audio-only mode the check sends sound only: the explanation must not promise a picture.
    const key = $("#audio-only").checked ? "check.explain_audio" : "check.explain";
    $("#check-explain").dataset.i18n = key;
    $("#check-explain").textContent = t(key);
    $("#check").hidden = false; $("#check-h").tabIndex = -1; $("#check-h").focus();
  });
  $("#check-close").addEventListener("click", () => { $("#check").hidden = true; $("#check-area").replaceChildren(); });
  $("#check-start").addEventListener("click", async (e) => {
    e.target.disabled = true;
    const result = await runDeviceCheck($("#check-area"), { media: $("#audio-only").checked ? "audio" : "video" });
    e.target.disabled = false;
    if (result.ok) { localStorage.setItem("vd.checked", "1"); $("#check-hint").hidden = true; }
    document.body.dataset.check = result.ok ? "ok" : "failed";
  });
}

// --- choosing -----------------------------------------------------------------------------
function describeLanguage(lang, tier) {
  const node = $("#lang-chosen");
  node.replaceChildren(t("counter.chosen", { name: languageName(lang) }), " ", waitText(tier));
  // The client notices exist for some languages only: say so before the client is waiting.
  if (!clientNotices.has(lang.code)) node.append(" ", el("span", { class: "muted" }, t("counter.no_client_notice")));
}

function chooseLanguage(lang, tier) {
  if (state.language && state.language.code !== lang.code) sessionStorage.removeItem("vd.client.lang");
  state.language = lang;
  describeLanguage(lang, tier);
  if ($("#counter-status").textContent === t("counter.pick_language")) showStatus($("#counter-status"), "");
  tellClient();
}

async function loadLifecycle() {
  const sets = await api("/api/requests/lifecycle");
  for (const name of Object.keys(lifecycle)) lifecycle[name] = new Set(sets[name]);
}

async function loadChoices() {
  const [languages, purposes, tiers] = await Promise.all([
    api("/api/languages?active=true"), api("/api/purposes?active=true"),
    api("/api/languages/tiers").catch(() => []),
  ]);
  state.languages = languages;
  state.purposes = purposes.sort((a, b) => a.sort_order - b.sort_order);
  showTiers(tiers);
  renderPurposes();
}

function showTiers(tiers) {
  const usage = [...tiers].filter((x) => x.office_requests).sort((a, b) => b.office_requests - a.office_requests).map((x) => x.language_code);
  state.picker.setData({ languages: state.languages, tiers, usage });
  // The line under the picker says what the list says now, not what it said before.
  if (state.language) describeLanguage(state.language, state.picker.tiers.get(state.language.code));
}

/** Who is on duty changes by the minute: while the form waits, the picker's lines follow it
 * (not while its list is open under the person's fingers, nor in a hidden tab). */
async function refreshTiers() {
  if (document.body.dataset.view !== "choose" || document.hidden || state.picker.expanded) return;
  const tiers = await api("/api/languages/tiers").catch(() => null);
  if (tiers && document.body.dataset.view === "choose" && !state.picker.expanded) showTiers(tiers);
}

function renderPurposes() {
  const select = $("#purpose");
  const current = select.value;
  select.replaceChildren(...state.purposes.map((p) => new Option(languageName(p), p.code, false, p.code === current)));
}

function requestBody() {
  return {
    language_code: state.language.code,
    purpose: $("#purpose").value,
    media: $("#audio-only").checked ? "audio" : "video",
    priority: $("#urgent").checked ? "urgent" : "normal",
    wish_gender: $("#wish-gender").value || null,
    wish_qualification: $("#wish-qualification").value,
  };
}

function needLanguage() {
  state.picker.commit();
  if (state.language) return false;
  showStatus($("#counter-status"), t("counter.pick_language"), "error");
  $("#lang-search").focus();
  return true;
}

async function interpretNow(event) {
  event.preventDefault();
  if (needLanguage()) return;
  showStatus($("#counter-status"), t("counter.sending"));
  try {
    const request = await api("/api/requests", { method: "POST", body: requestBody(), headers: { "Idempotency-Key": newIdempotencyKey() } });
    showStatus($("#counter-status"), "");
    remember({ id: request.id, media: request.media, language: state.language.code });
    showWaiting(request);
  } catch (error) {
    showStatus($("#counter-status"), errorText(error), "error");
  }
}

// --- waiting ------------------------------------------------------------------------------
function remember(value) {
  if (value) sessionStorage.setItem(STORE, JSON.stringify({ ...(JSON.parse(sessionStorage.getItem(STORE) || "{}")), ...value }));
  else sessionStorage.removeItem(STORE);
}
function remembered() { return JSON.parse(sessionStorage.getItem(STORE) || "null"); }

function showWaiting(request) {
  state.request = { ...(state.request || {}), ...request };
  const r = state.request;
  if (document.body.dataset.view !== "waiting") section("waiting");
  const lang = state.languages.find((l) => l.code === r.language_code);
  $("#waiting-language").textContent = t("waiting.language", { name: lang ? languageName(lang) : r.language_code });
  const unfilled = r.status === "unfilled";
  $("#waiting-h").textContent = t(unfilled ? "waiting.heading_unfilled" : "waiting.heading");
  const position = $("#waiting-position");
  position.textContent = unfilled ? "" : r.status === "callback" ? t("waiting.callback_set")
    : r.status === "offered" ? t("waiting.searching")
      : r.queue_position ? t("waiting.position", { position: fmtNumber(r.queue_position) }) : t("waiting.searching");
  position.classList.toggle("searching", !unfilled && r.status !== "callback");
  $("#waiting-estimate").textContent = unfilled || r.status === "callback" ? "" : estimateText(r);
  const box = $("#unfilled");
  if (unfilled && box.hidden) {
    box.hidden = false;
    $("#unfilled-text").textContent = t("waiting.unfilled");  // role=alert: read out at once
  } else if (!unfilled) {
    box.hidden = true;
    $("#unfilled-text").textContent = "";
  }
  $("#cancel").hidden = unfilled;
  tellClient(unfilled ? "unavailable" : "connecting");
}

/** The wait the server estimates; without one, what the picker promised for this language. */
function estimateText(request) {
  const minutes = (seconds) => fmtNumber(Math.max(1, Math.round(seconds / 60)));
  if (request.estimated_wait_seconds) return t("waiting.estimate", { minutes: minutes(request.estimated_wait_seconds) });
  const tier = state.picker.tiers.get(request.language_code);
  if (tier?.tier === "now") {
    return tier.typical_wait_seconds ? t("waiting.estimate", { minutes: minutes(tier.typical_wait_seconds) }) : t("waiting.estimate_now");
  }
  return t("waiting.estimate_unknown");
}

async function refreshRequest() {
  const saved = remembered();
  if (!saved || session.active) return;
  try {
    const request = await api(`/api/requests/${saved.id}`);
    if (!saved.media) remember({ media: request.media, language: request.language_code });
    if (request.status === "escalated") await followStoredEscalation(saved.id);
    else onRequestStatus(request);
  } catch { /* the socket will tell us */ }
}

// --- a booking whose interpreter did not come -----------------------------------------------
// The booking moved on to a new on-demand request: leave the booking's (empty) room without a
// rating, say so in plain words, and wait for the new request's call like any other.
function followEscalation(bookingId, nextId) {
  const saved = remembered();
  if (!nextId || (saved && saved.id !== bookingId && saved.id !== nextId)) return; // busy with another request
  session.stop();
  remember({ id: nextId, join: null });
  showStatus($("#counter-status"), t("booking.no_show_follow"), "error");
  showWaiting({ id: nextId, status: "queued", language_code: state.request?.language_code || saved?.language });
}

async function followStoredEscalation(bookingId) {
  try {
    const booking = await api(`/api/bookings/${bookingId}`);
    if (booking.escalated_to) followEscalation(bookingId, booking.escalated_to);
  } catch { /* not a booking of this office: nothing to follow */ }
}

function onRequestStatus(update) {
  const saved = remembered();
  if (!saved && !session.active && update.request_id && lifecycle.cancellable.has(update.status)) {
    // A request of mine still waits, but this page knows none: the browser was closed and opened
    // again (the socket's replay names it). Take it up, so it can be seen and cancelled rather
    // than ring an interpreter into a room nobody comes to.
    remember({ id: update.request_id });
    refreshRequest();
    return;
  }
  if (!saved || update.request_id !== undefined && update.request_id !== saved.id && update.id !== saved.id) return;
  const request = { ...update, id: saved.id };
  // Still waiting (queued, offered, callback) or given up (unfilled): the waiting screen says which.
  if (lifecycle.cancellable.has(request.status) || request.status === "unfilled") {
    if (!session.active) showWaiting(request);
  } else if (request.status === "completed") {
    if (!session.active && document.body.dataset.view !== "rating") {
      section("rating");
      tellClient("ended");
    }
  } else if (lifecycle.final.has(request.status) && request.status !== "escalated") {
    // Cancelled or failed: nothing to rate, the counter is free again.
    remember(null);
    section("choose");
    tellClient("welcome");
  }
}

// --- the call -----------------------------------------------------------------------------
// The call itself is the shared CallSession; the counter adds what it means here: the request
// id and join survive a reload, the client screen follows, the rating comes after.
async function joinCall(join) {
  const saved = remembered() || {};
  if (session.joining) return;
  if (session.active) {
    if (saved.join?.room_id === join.room_id) return; // the socket resume rejoins by itself
    await session.stop(); // a call for another request (e.g. after an escalation): leave it
  }
  remember({ id: join.request_id, join });
  section("call");
  await session.start(join, join.media || saved.media || "video");
}

function wireSession() {
  session.addEventListener("remote", () => tellClient("in_call"));
  session.addEventListener("hangup", () => endCall(true));
  session.addEventListener("ended", ({ detail }) => {
    if (detail.reason === "escalated") followStoredEscalation(session.join?.request_id);
    else endCall(false);
  });
}

async function endCall(byMe) {
  await session.stop({ report: byMe });
  remember({ join: null });
  section("rating");
  tellClient("ended");
}

async function submitRating(event) {
  event.preventDefault();
  const form = event.target;
  const saved = remembered();
  const rating = form.querySelector("input[name=rating]:checked");
  if (!rating) { showStatus($("#counter-status"), t("rating.choose"), "error"); return; }
  const problems = [...form.querySelectorAll("input[name=problems]:checked")].map((c) => c.value);
  try {
    if (saved) await api(`/api/requests/${saved.id}/rating`, { method: "POST", body: { rating: Number(rating.value), problems } });
    showStatus($("#counter-status"), t("rating.thanks"), "ok");
  } catch (error) {
    showStatus($("#counter-status"), errorText(error), "error");
    return;
  }
  finishRequest(form);
}

function finishRequest(form) {
  form.reset();
  remember(null);
  state.request = null;
  section("choose");
  tellClient("welcome");
  loadChoices();
}

// --- events from the server ---------------------------------------------------------------
function onEvent({ detail }) {
  const event = detail.event;
  if (event.type === "request-status") onRequestStatus(event);
  else if (event.type === "call-join") joinCall(event);
  else if (event.type === "callback-ready") showStatus($("#counter-status"), t("waiting.callback_ready"), "ok");
  else if (event.type === "booking") {
    refreshMyBookings();
    if (event.kind === "no_show_escalated") followEscalation(event.booking_id, event.next_request_id);
    else showStatus($("#counter-status"), t(`booking.event_${event.kind}`, event), event.kind === "booking_unassigned" ? "error" : "ok");
  }
}

function book() {
  openBooking({ language: state.language, body: requestBody, show: section, status: $("#counter-status"),
    languages: state.languages, purposes: state.purposes });
}

function wire() {
  $("#request-form").addEventListener("submit", interpretNow);
  $("#cancel").addEventListener("click", async () => {
    const saved = remembered();
    // Say "cancelled" only when the server says so; otherwise show its reason and stay.
    try {
      if (saved) await api(`/api/requests/${saved.id}/cancel`, { method: "POST" });
    } catch (error) {
      showStatus($("#counter-status"), errorText(error), "error");
      refreshRequest();
      return;
    }
    remember(null);
    state.request = null;
    section("choose");
    tellClient("welcome");
    showStatus($("#counter-status"), t("waiting.cancelled"), "ok");
  });
  $("#callback").addEventListener("click", async () => {
    const saved = remembered();
    try {
      const request = await api(`/api/requests/${saved.id}/callback`, { method: "POST" });
      // From an unfilled request the server makes a new follow-up request: follow its id.
      remember({ id: request.id });
      state.request = { ...request };
      showWaiting(request);
      focusOn($("#waiting-h"));
    } catch (error) { showStatus($("#counter-status"), errorText(error), "error"); }
  });
  $("#book-open").addEventListener("click", () => {
    if (needLanguage()) return;
    book();
  });
  $("#unfilled-book").addEventListener("click", () => { remember(null); book(); });
  $("#booking-close").addEventListener("click", () => section("choose"));
  $("#rating-form").addEventListener("submit", submitRating);
  $("#rating-skip").addEventListener("click", () => finishRequest($("#rating-form")));
  $("#guest-create").addEventListener("click", async () => {
    const saved = remembered();
    try {
      const link = await api(`/api/requests/${saved.id}/guest-link`, { method: "POST" });
      $("#guest-url").value = link.url;
      $("#guest-url").select();
    } catch (error) { showStatus($("#counter-status"), errorText(error), "error"); }
  });
  signal.addEventListener("event", onEvent);
  signal.addEventListener("welcome", () => refreshRequest());
}

async function main() {
  state.me = await startPage({ roles: ["caseworker", "admin"], titleKey: "counter.heading" });
  state.picker = new LanguagePicker({
    input: $("#lang-search"), list: $("#lang-list"),
    onSelect: chooseLanguage,
  });
  wire();
  wireSession();
  wireClientScreen();
  wireDeviceCheck();
  const notices = await clientLanguages().catch(() => []);
  clientNotices = new Set([...notices.map((x) => x.code), "gsg"]);
  mountMyBookings({
    languages: () => state.languages,
    purposes: () => state.purposes,
    choose: (code) => { state.picker.select(code); },
    book: () => book(),
    now: () => $("#interpret-now").click(),
  });
  await Promise.all([loadChoices(), loadLifecycle()]);
  onLocaleChange(() => { state.picker.render(); renderPurposes(); if (state.language) describeLanguage(state.language, state.picker.tiers.get(state.language.code)); });
  const saved = remembered();
  if (saved?.language) state.picker.select(saved.language);
  if (saved?.join) joinCall(saved.join);
  else if (saved) refreshRequest();
  else section("choose");
  signal.connect();
  setInterval(() => { if (document.body.dataset.view === "waiting") refreshRequest(); }, 5000);
  setInterval(refreshTiers, TIERS_REFRESH_MS);
  performance.mark("vd-ready");
  document.body.dataset.loaded = "1";
}

main();
