// The interpreter's planning side: bookings (confirm / decline), weekly availability,
// absences, the calendar feed link, and this month's interpreted minutes.
import { api, apiAll, errorText } from "./api.js";
import { $, $$, el, showStatus } from "./dom.js";
import { fmtDateTime, fmtNumber, languageName, t } from "./i18n.js";
import { wireAbsences } from "./availabilityeditor.js";

const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];
let me = null;
let status = null;

async function guard(action, okKey) {
  try {
    await action();
    if (okKey) showStatus(status, t(okKey), "ok");
  } catch (error) {
    showStatus(status, errorText(error), "error");
  }
}

export async function loadBookings() {
  const bookings = await apiAll("/api/bookings").catch(() => []);
  const upcoming = bookings.filter((b) => ["requested", "assigned", "open", "connected"].includes(b.status))
    .sort((a, b) => a.start.localeCompare(b.start));
  $("#bookings-list").replaceChildren(...(upcoming.length ? upcoming.map((b) => {
    const when = fmtDateTime(b.start);
    const text = t("booking.line", {
      time: when, end: fmtDateTime(b.end, { timeStyle: "short" }),
      language: b.language ? languageName(b.language) : b.language_code,
      office: b.office_name || "", purpose: b.purpose_names ? languageName(b.purpose_names) : b.purpose,
      status: t(`bstatus.${b.status}`),
    });
    const li = el("li", { "data-booking": b.id, "data-status": b.status }, el("span", {}, `${text} `));
    const post = (action, okKey) => guard(async () => { await api(`/api/bookings/${b.id}/${action}`, { method: "POST" }); await loadBookings(); }, okKey);
    if (b.status === "requested") {
      // Assigned to me, not yet confirmed: confirm or decline.
      li.append(
        el("button", { type: "button", class: "primary", "aria-label": `${t("booking.confirm")}: ${when}`,
          onclick: () => post("confirm", "booking.confirmed") }, t("booking.confirm")), " ",
        el("button", { type: "button", "aria-label": `${t("booking.decline")}: ${when}`,
          onclick: () => post("decline", "booking.declined") }, t("booking.decline")));
    } else if (b.status === "assigned" || b.status === "open") {
      // Confirmed: withdrawing hands it to the next person (late if close to the start).
      li.append(el("button", { type: "button", "aria-label": `${t("booking.withdraw")}: ${when}`,
        onclick: () => post("decline", "booking.withdrawn") }, t("booking.withdraw")));
    }
    return li;
  }) : [el("li", {}, t("interp.no_bookings"))]));
}

function windowRow(w = { weekday: 0, start_time: "08:00", end_time: "16:00" }) {
  const n = $$("#windows .row").length + 1;
  const day = el("select", { id: `win-day-${n}`, name: "weekday" },
    WEEKDAYS.map((d) => el("option", { value: d, selected: d === w.weekday || null }, t(`weekday.${d}`))));
  const start = el("input", { id: `win-start-${n}`, name: "start_time", type: "time", value: w.start_time.slice(0, 5), required: true });
  const end = el("input", { id: `win-end-${n}`, name: "end_time", type: "time", value: w.end_time.slice(0, 5), required: true });
  const row = el("div", { class: "row" },
    el("div", { class: "field" }, el("label", { for: day.id }, t("interp.weekday")), day),
    el("div", { class: "field" }, el("label", { for: start.id }, t("interp.from")), start),
    el("div", { class: "field" }, el("label", { for: end.id }, t("interp.to")), end),
    el("div", { class: "field" }, el("button", { type: "button", onclick: () => row.remove() }, t("action.remove"))));
  $("#windows").append(row);
}

async function loadAvailability() {
  const windows = await api(`/api/interpreters/${me.id}/availability`);
  $("#windows").replaceChildren();
  windows.forEach(windowRow);
}

export async function loadMinutes() {
  const start = new Date();
  start.setDate(1);
  start.setHours(0, 0, 0, 0);
  const done = await apiAll("/api/requests?status=completed").catch(() => []);
  const seconds = done.filter((r) => r.connected_at && r.ended_at && new Date(r.ended_at) >= start)
    .reduce((sum, r) => sum + (new Date(r.ended_at) - new Date(r.connected_at)) / 1000, 0);
  $("#minutes-month").textContent = t("interp.minutes", { minutes: fmtNumber(Math.round(seconds / 60)) });
}

export async function startSchedule(user, statusNode) {
  me = user;
  status = statusNode;
  $("#window-add").addEventListener("click", () => windowRow());
  $("#availability-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const windows = $$("#windows .row").map((row) => ({
      weekday: Number(row.querySelector("[name=weekday]").value),
      start_time: row.querySelector("[name=start_time]").value,
      end_time: row.querySelector("[name=end_time]").value,
    }));
    guard(async () => { await api(`/api/interpreters/${me.id}/availability`, { method: "PUT", body: { windows } }); await loadAvailability(); }, "admin.saved");
  });
  // Absences answer under their own form (the console is long; the top-of-page status is out of sight).
  const absences = wireAbsences({ base: `/api/interpreters/${me.id}`, list: $("#absences-list"),
    form: $("#absence-form"), status: $("#absence-status"), start: $("#absence-start"), end: $("#absence-end"),
    note: $("#absence-note"), emptyText: false });
  $("#calendar-link").addEventListener("click", () => guard(async () => {
    const link = await api("/api/bookings/calendar/token", { method: "POST" });
    $("#calendar-url").value = link.url;
    $("#calendar-url").select();
  }, "interp.calendar_ready"));
  await Promise.all([loadBookings(), loadAvailability(), absences.load(), loadMinutes()]);
}
