// "Termin buchen": free slots of a day for the chosen language (interpreters proposed per slot
// by /api/bookings/proposals), then book the chosen slot (proposed interpreter or automatic).
import { api, errorText } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { fmtDateTime, languageName, onLocaleChange, t } from "./i18n.js";

const DAY_HOURS = [8, 9, 10, 11, 12, 13, 14, 15]; // office hours, Europe/Berlin
let ctx = null;
// What is on screen, kept so that a language switch can draw it again in the other language.
const view = { free: [], duration: 30, slot: null, status: null };

/** Show a status whose text is built again on every language switch. */
function say(text, kind = "") {
  view.status = { text, kind };
  showStatus($("#booking-status"), text(), kind);
}

/** A Date for `date` (YYYY-MM-DD) at `hour` Berlin local time (handles summer time). */
function berlin(date, hour) {
  const guess = new Date(`${date}T${String(hour).padStart(2, "0")}:00:00Z`);
  const local = new Date(guess.toLocaleString("en-US", { timeZone: "Europe/Berlin" }));
  const utc = new Date(guess.toLocaleString("en-US", { timeZone: "UTC" }));
  return new Date(guess.getTime() - (local - utc));
}

function query(params) { return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== "")).toString(); }

async function findSlots(event) {
  event?.preventDefault();
  const date = $("#booking-date").value;
  const duration = Number($("#booking-duration").value);
  const body = ctx.body();
  const now = Date.now() + 15 * 60_000;
  const starts = DAY_HOURS.flatMap((h) => [berlin(date, h), new Date(berlin(date, h).getTime() + 30 * 60_000)])
    .filter((d) => d.getTime() > now);
  say(() => t("booking.searching"));
  view.slot = null;
  $("#booking-proposals").replaceChildren();
  const results = await Promise.all(starts.map(async (start) => {
    const q = query({ language_code: body.language_code, purpose: body.purpose, start: start.toISOString(),
      duration_minutes: duration, media: body.media, wish_gender: body.wish_gender, wish_qualification: body.wish_qualification });
    try { return { start, proposals: await api(`/api/bookings/proposals?${q}`) }; } catch { return { start, proposals: [] }; }
  }));
  const free = results.filter((r) => r.proposals.length > 0);
  Object.assign(view, { free, duration });
  renderSlots();
  say(() => (free.length ? t("booking.slots_found", { count: free.length }) : t("booking.no_slots")));
}

function renderSlots() {
  $("#booking-slots").replaceChildren(...view.free.map((r) => el("li", {},
    el("button", { type: "button", class: "slot", "data-start": r.start.toISOString(), onclick: () => showProposals(r, view.duration) },
      fmtDateTime(r.start, { timeStyle: "short" })))));
}

function showProposals(slot, duration, { chosen = "", focus = true } = {}) {
  view.slot = slot;
  const name = "proposal";
  const items = [{ interpreter_id: "", display_name: t("booking.automatic") }, ...slot.proposals];
  const fieldset = el("fieldset", {}, el("legend", {}, t("booking.choose_interpreter", { time: fmtDateTime(slot.start) })),
    items.map((p, i) => el("label", { class: "check" },
      el("input", { type: "radio", name, value: p.interpreter_id, checked: (chosen ? String(p.interpreter_id) === chosen : i === 0) || null }),
      p.interpreter_id ? `${p.display_name} (${t(`qualification.${p.qualification}`)})` : p.display_name)));
  const submit = el("button", { type: "submit", class: "primary", id: "booking-submit" }, t("booking.submit"));
  const form = el("form", { id: "proposal-form" }, fieldset, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = form.querySelector(`input[name=${name}]:checked`).value;
    const body = ctx.body();
    delete body.priority;
    try {
      const booking = await api("/api/bookings", { method: "POST", body: {
        ...body, start: slot.start.toISOString(), duration_minutes: duration, interpreter_id: chosen ? Number(chosen) : null } });
      say(() => t("booking.done", { time: fmtDateTime(booking.start) }), "ok");
      view.slot = null;
      $("#booking-proposals").replaceChildren();
      document.body.dataset.booking = String(booking.id);
    } catch (error) {
      say(() => errorText(error), "error");
    }
  });
  $("#booking-proposals").replaceChildren(form);
  if (focus) form.querySelector("input").focus();
}

function summary() { return t("booking.summary", { name: languageName(ctx.language) }); }

onLocaleChange(() => {
  if (!ctx) return;
  $("#booking-summary").textContent = summary();
  renderSlots();
  const chosen = $("#proposal-form input:checked");
  if (view.slot) showProposals(view.slot, view.duration, { chosen: chosen ? chosen.value : "", focus: false });
  if (view.status) showStatus($("#booking-status"), view.status.text(), view.status.kind);
});

export function openBooking(options) {
  ctx = options;
  $("#booking-summary").textContent = summary();
  const tomorrow = new Date(Date.now() + 86_400_000);
  if (!$("#booking-date").value) $("#booking-date").value = tomorrow.toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
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
