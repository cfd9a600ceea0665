// "Termin buchen": the free quarter hours of a day for the chosen language, taken from the
// interpreters' real availability (/api/bookings/slots), then book the chosen slot with the
// proposed interpreter or automatically. When a day cannot be booked the server says why
// (holiday, past, too long, too short) as a code this page translates.
import { api, errorText } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { currentLocale, fmtDateTime, languageName, onLocaleChange, t } from "./i18n.js";
import { refreshMyBookings } from "./mybookings.js";

let ctx = null;
// What is on screen, kept so that a language switch can draw it again in the other language.
const view = { free: [], duration: 30, slot: null, status: null };

/** Show a status whose text is built again on every language switch. */
function say(text, kind = "") {
  view.status = { text, kind };
  showStatus($("#booking-status"), text(), kind);
}

function query(params) { return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== "")).toString(); }

/** The duration's rule under its field, in words, from the field's own min and max (counter.html
 * holds the server's rule: at least MIN_MINUTES of broker/booking/slots.py, whole minutes, at most
 * the setting booking_max_minutes), so the field and its hint cannot disagree. */
function durationHint() {
  const field = $("#booking-duration");
  $("#booking-duration-hint").textContent = t("booking.duration_hint", { minimum: field.min, maximum: field.max });
}

/** A too-short or too-long answer carries the server's limit: the field and its hint take it on. */
function learnDurationLimit(body) {
  const field = $("#booking-duration");
  if (body.code === "booking_too_short" && body.minimum) field.min = String(body.minimum);
  else if (body.code === "booking_too_long" && body.maximum) field.max = String(body.maximum);
  else return;
  durationHint();
}

/** The server's reason in the page's language (the code is stable, the wording ours). */
export function reasonText(error) {
  const body = error.body || {};
  const key = `booking.error_${body.code}`;
  if (body.code && t(key) !== key) {
    const holiday = body.holiday ? body.holiday[currentLocale() === "en" ? "en" : "de"] : "";
    return t(key, { holiday, maximum: body.maximum ?? "", minimum: body.minimum ?? "" });
  }
  return errorText(error);
}

// Only the newest search may show its answer: opening the form searches the default day at once,
// and that answer can arrive after the one for the day the person then typed.
let searches = 0;

async function findSlots(event) {
  event?.preventDefault();
  const mine = ++searches;
  const day = $("#booking-date").value;
  const duration = Number($("#booking-duration").value || 0);
  const body = ctx.body();
  say(() => t("booking.searching"));
  view.slot = null;
  Object.assign(view, { free: [], duration });
  renderSlots();
  $("#booking-proposals").replaceChildren();
  const q = query({ language_code: body.language_code, purpose: body.purpose, date: day, duration_minutes: duration,
    wish_gender: body.wish_gender, wish_qualification: body.wish_qualification });
  let free;
  try {
    free = await api(`/api/bookings/slots?${q}`);
  } catch (error) {
    if (mine !== searches) return;
    learnDurationLimit(error.body || {});
    say(() => reasonText(error), "error");
    return;
  }
  if (mine !== searches) return;
  view.free = free.map((s) => ({ ...s, start: new Date(s.start), end: new Date(s.end) }));
  renderSlots();
  say(() => (view.free.length ? t("booking.slots_found", { count: view.free.length }) : t("booking.no_slots")));
}

function renderSlots() {
  $("#booking-slots").replaceChildren(...view.free.map((r) => el("li", {},
    // The chosen time stays marked (aria-pressed and the pressed look) while its proposals show.
    el("button", { type: "button", class: "slot", "data-start": r.start.toISOString(),
      "aria-pressed": String(view.slot?.start?.getTime() === r.start.getTime()),
      onclick: () => { showProposals(r, view.duration); renderSlots(); } },
    fmtDateTime(r.start, { timeStyle: "short" })))));
}

function languageLabel(code) {
  const lang = (ctx.languages || []).find((l) => l.code === code);
  return lang ? languageName(lang) : code;
}

/** A proposal that two people with the same name cannot be mixed up by. */
function proposalLabel(p) {
  const spoken = (p.languages || []).map(languageLabel).join(", ");
  return t("booking.proposal", { name: p.display_name, qualification: t(`qualification.${p.qualification}`),
    languages: spoken, username: p.username });
}

function confirmation(booking) {
  const purpose = (ctx.purposes || []).find((p) => p.code === booking.purpose);
  return t(booking.interpreter_name ? "booking.done" : "booking.done_nobody", {
    reference: booking.id,
    time: fmtDateTime(booking.start),
    end: fmtDateTime(booking.end, { timeStyle: "short" }),
    language: booking.language ? languageName(booking.language) : languageLabel(booking.language_code),
    purpose: purpose ? languageName(purpose) : booking.purpose,
    interpreter: booking.interpreter_name || "",
  });
}

function showProposals(slot, duration, { chosen = "", focus = true } = {}) {
  view.slot = slot;
  const name = "proposal";
  const items = [{ interpreter_id: "" }, ...slot.proposals];
  const fieldset = el("fieldset", {}, el("legend", {}, t("booking.choose_interpreter", {
    time: fmtDateTime(slot.start), end: fmtDateTime(slot.end, { timeStyle: "short" }) })),
  items.map((p, i) => el("label", { class: "check" },
    el("input", { type: "radio", name, value: p.interpreter_id, checked: (chosen ? String(p.interpreter_id) === chosen : i === 0) || null }),
    p.interpreter_id ? proposalLabel(p) : t("booking.automatic"))));
  const submit = el("button", { type: "submit", class: "primary", id: "booking-submit" }, t("booking.submit"));
  const form = el("form", { id: "proposal-form" }, fieldset, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const picked = form.querySelector(`input[name=${name}]:checked`).value;
    const body = ctx.body();
    delete body.priority;
    try {
      const booking = await api("/api/bookings", { method: "POST", body: {
        ...body, start: slot.start.toISOString(), duration_minutes: duration, interpreter_id: picked ? Number(picked) : null } });
      say(() => confirmation(booking), "ok");
      view.slot = null;
      $("#booking-proposals").replaceChildren();
      document.body.dataset.booking = String(booking.id);
      refreshMyBookings();
    } catch (error) {
      learnDurationLimit(error.body || {});
      say(() => reasonText(error), "error");
    }
  });
  $("#booking-proposals").replaceChildren(form);
  if (focus) form.querySelector("input").focus();
}

function summary() { return t("booking.summary", { name: languageName(ctx.language) }); }

/** The next working day (Monday to Friday) in Berlin, as YYYY-MM-DD. */
export function nextWorkingDay(now = new Date()) {
  for (let days = 1; days < 8; days += 1) {
    const day = new Date(now.getTime() + days * 86_400_000);
    const weekday = new Intl.DateTimeFormat("en-US", { timeZone: "Europe/Berlin", weekday: "short" }).format(day);
    if (weekday !== "Sat" && weekday !== "Sun") return day.toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
  }
  return now.toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
}

onLocaleChange(() => {
  if (!ctx) return;
  $("#booking-summary").textContent = summary();
  durationHint();
  renderSlots();
  const chosen = $("#proposal-form input:checked");
  if (view.slot) showProposals(view.slot, view.duration, { chosen: chosen ? chosen.value : "", focus: false });
  if (view.status) showStatus($("#booking-status"), view.status.text(), view.status.kind);
});

export function openBooking(options) {
  ctx = options;
  $("#booking-summary").textContent = summary();
  durationHint();
  if (!$("#booking-date").value) $("#booking-date").value = nextWorkingDay();
  $("#booking-date").min = new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
  if (!$("#booking-form").dataset.wired) {
    $("#booking-form").addEventListener("submit", findSlots);
    $("#booking-form").dataset.wired = "1";
  }
  Object.assign(view, { free: [], slot: null, status: null });
  $("#booking-slots").replaceChildren();
  $("#booking-proposals").replaceChildren();
  showStatus($("#booking-status"), "");
  options.show("booking");
  findSlots();
}
