// "Meine Termine" on the counter: the office's upcoming and recent bookings with status,
// interpreter, language, purpose, start and end, the late-cancel flag, and a cancel button whose
// confirmation says whether the cancellation counts as late. A booking nobody could take offers
// the three ways on: another time, interpret now, or cancel.
import { api, apiAll, errorText as codeText } from "./api.js";
import { $, el, showStatus } from "./dom.js";
import { fmtDateTime, languageName, onLocaleChange, t } from "./i18n.js";

const ACTIVE = new Set(["requested", "assigned", "open", "connected"]);
const RECENT_DAYS = 14;
let options = null;
let shown = [];
let pending = null; // the booking whose cancellation waits for confirmation

function names(entry, fallback) { return entry ? languageName(entry) : fallback; }

/** The status as the caseworker reads it; a booking nobody took says so. */
export function statusText(booking) {
  if (booking.status === "requested" && !booking.interpreter_id) return t("booking.status_unassigned");
  return t(`booking.status_${booking.status}`);
}

function errorText(error) {
  const code = error.body?.code;
  return code && t(`booking.error_${code}`) !== `booking.error_${code}` ? t(`booking.error_${code}`)
    : codeText(error);
}

function askCancel(booking) {
  pending = booking;
  const dialog = $("#mybookings-confirm");
  $("#mybookings-confirm-text").textContent = t(booking.cancel_is_late ? "booking.cancel_confirm_late" : "booking.cancel_confirm",
    { time: fmtDateTime(booking.start) });
  dialog.showModal();
  $("#mybookings-confirm-no").focus();
}

async function cancelConfirmed() {
  const booking = pending;
  pending = null;
  $("#mybookings-confirm").close();
  if (!booking) return;
  try {
    const done = await api(`/api/bookings/${booking.id}/cancel`, { method: "POST" });
    showStatus($("#mybookings-status"), t(done.late_cancellation ? "booking.cancelled_late" : "booking.cancelled"), "ok");
  } catch (error) {
    showStatus($("#mybookings-status"), errorText(error), "error");
  }
  await refreshMyBookings();
}

function actions(booking) {
  if (!ACTIVE.has(booking.status) || booking.status === "connected") return [];
  const when = fmtDateTime(booking.start);
  const cancel = el("button", { type: "button", class: "danger", "aria-label": `${t("booking.cancel")}: ${when}`,
    onclick: () => askCancel(booking) }, t("booking.cancel"));
  if (booking.status !== "requested" || booking.interpreter_id) return [cancel];
  // Nobody could be found: another time, on demand, or cancel.
  const again = el("button", { type: "button", onclick: () => { options.choose(booking.language_code); options.book(); } },
    t("booking.other_time"));
  const now = el("button", { type: "button", onclick: () => { options.choose(booking.language_code); options.now(); } },
    t("booking.on_demand"));
  return [el("p", { class: "status error" }, t("booking.nobody_found")), again, " ", now, " ", cancel];
}

function row(booking) {
  const late = booking.late_cancellation ? t("booking.late_flag") : "";
  return el("tr", { "data-booking": booking.id, "data-status": booking.status },
    el("td", {}, fmtDateTime(booking.start)),
    el("td", {}, fmtDateTime(booking.end, { timeStyle: "short" })),
    el("td", {}, names(booking.language, booking.language_code)),
    el("td", {}, names(booking.purpose_names, booking.purpose)),
    el("td", {}, booking.interpreter_name || "–"),
    el("td", {}, statusText(booking), late ? el("strong", {}, ` (${late})`) : ""),
    el("td", {}, ...actions(booking)));
}

function render() {
  const body = $("#mybookings-rows");
  const upcoming = shown.filter((b) => ACTIVE.has(b.status));
  const recent = shown.filter((b) => !ACTIVE.has(b.status)).reverse();
  $("#mybookings-empty").hidden = shown.length > 0;
  $("#mybookings-table").hidden = shown.length === 0;
  const group = (key, items) => (items.length
    ? [el("tr", {}, el("th", { colspan: 7, scope: "colgroup" }, t(key))), ...items.map(row)] : []);
  body.replaceChildren(...group("booking.upcoming", upcoming), ...group("booking.recent", recent));
}

/** Load the office's bookings from two weeks ago on and draw them again. */
export async function refreshMyBookings() {
  if (!options) return;
  const since = new Date(Date.now() - RECENT_DAYS * 86_400_000).toISOString();
  try {
    shown = await apiAll(`/api/bookings?start_from=${encodeURIComponent(since)}`);
    render();
  } catch (error) {
    showStatus($("#mybookings-status"), errorText(error), "error");
  }
}

export function mountMyBookings(given) {
  options = given;
  $("#mybookings-confirm-yes").addEventListener("click", cancelConfirmed);
  $("#mybookings-confirm-no").addEventListener("click", () => { pending = null; $("#mybookings-confirm").close(); });
  // Shown beside the form, not during a call or while waiting (the counter sets body[data-view]).
  const follow = () => { $("#mybookings").hidden = !["choose", "booking", undefined].includes(document.body.dataset.view); };
  new MutationObserver(follow).observe(document.body, { attributes: true, attributeFilter: ["data-view"] });
  follow();
  onLocaleChange(render);
  refreshMyBookings();
  setInterval(() => { if (!$("#mybookings").hidden) refreshMyBookings(); }, 60_000);
}
