// Admin: e-mail delivery. The outbox newest first with filters and pages, failures at a glance
// (status, attempts, last error), one row's detail with the stored mail (log mode), retry.
// Everything from the server goes into the page as text, never as HTML.
import { api, apiAll, errorText } from "./api.js";
import { $, el, show, showStatus } from "./dom.js";
import { apply, fmtDateTime, fmtNumber, onLocaleChange, t } from "./i18n.js";
import { plainText } from "./mime.js";
import { startPage } from "./shell.js";

const KINDS = ["booking_assigned", "booking_confirmed", "booking_declined", "booking_cancelled",
  "booking_late_cancelled", "reminder_due", "no_show_escalated", "callback_ready", "request_unfilled"];
const STATUSES = ["pending", "sent", "failed"];
const PAGE_SIZE = 25;
const state = { users: [], page: null, offset: 0, failures: 0, detail: null };
window.__vd = { state };

const userName = (id) => (state.users.find((u) => u.id === id) || { display_name: `#${id}` }).display_name;
const kindLabel = (kind) => (KINDS.includes(kind) ? t(`notify.kind.${kind}`) : kind);
const statusLabel = (status) => t(`outbox.status.${status}`);
// A "sent" row without a recipient went to the log only (the user has no e-mail address): say so, not "versandt".
const unaddressed = (row) => row.status === "sent" && !row.recipient;
const rowStatus = (row) => (unaddressed(row) ? t("outbox.no_address") : statusLabel(row.status));
const BADGE = { pending: "warn", sent: "ok", failed: "bad" };

function options(select, values, labelOf) {
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, t("outbox.all")),
    ...values.map((v) => el("option", { value: v, selected: String(v) === chosen || null }, labelOf(v))));
}

function renderFilters() {
  options($("#filter-status"), STATUSES, statusLabel);
  options($("#filter-kind"), KINDS, kindLabel);
  options($("#filter-user"), state.users.map((u) => String(u.id)), (id) => {
    const user = state.users.find((u) => String(u.id) === id);
    return `${user.display_name} (${user.username})`;
  });
}

function query() {
  const params = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset });
  if ($("#filter-failures").checked) params.set("failures", "true");
  for (const name of ["status", "kind", "user_id"]) {
    const value = $(`#outbox-filter [name=${name}]`).value;
    if (value) params.set(name, value);
  }
  return params;
}

// --- the list ------------------------------------------------------------------------------
function retryButton(row) {
  if (row.status === "sent") return null;
  return el("button", { type: "button", "aria-label": t("outbox.retry_row", { id: row.id }), onclick: () => retry(row.id) },
    t("outbox.retry"));
}

function whenText(row) {
  if (row.status === "sent" && row.sent_at && !unaddressed(row)) return t("outbox.sent_at", { time: fmtDateTime(row.sent_at) });
  if (row.status === "pending") return t("outbox.next_at", { time: fmtDateTime(row.next_attempt_at) });
  return "";
}

function renderRows() {
  const page = state.page;
  $("#outbox-body").replaceChildren(...page.items.map((row) => el("tr", { dataset: { id: row.id, status: row.status } },
    el("td", {}, String(row.id)),
    el("td", {}, fmtDateTime(row.created_at)),
    el("td", {}, el("div", {}, userName(row.user_id)), row.recipient ? el("small", { class: "muted" }, row.recipient) : null),
    el("td", {}, el("div", {}, kindLabel(row.kind)), row.subject ? el("small", { class: "muted" }, row.subject) : null),
    el("td", {}, el("span", { class: `badge ${unaddressed(row) ? "warn" : BADGE[row.status] || ""}` }, rowStatus(row)),
      whenText(row) ? el("div", {}, el("small", { class: "muted" }, whenText(row))) : null),
    el("td", {}, fmtNumber(row.attempts)),
    el("td", { class: "error-text" }, row.last_error || "–"),
    el("td", {}, el("div", { class: "controls" },
      el("button", { type: "button", "aria-label": t("outbox.open_row", { id: row.id }), onclick: () => openDetail(row.id) },
        t("outbox.open")),
      retryButton(row))))));
  const from = page.total === 0 ? 0 : page.offset + 1;
  const to = page.offset + page.items.length;
  $("#outbox-range").textContent = page.total === 0 ? t("outbox.empty")
    : t("outbox.range", { from: fmtNumber(from), to: fmtNumber(to), total: fmtNumber(page.total) });
  $("#page-prev").disabled = page.offset === 0;
  $("#page-next").disabled = to >= page.total;
}

function renderFailures() {
  const node = $("#outbox-failures");
  if (state.failures === 0) showStatus(node, t("outbox.failures_none"), "ok");
  else showStatus(node, t("outbox.failures_some", { count: fmtNumber(state.failures) }), "error");
}

async function load() {
  const [page, failures] = await Promise.all([
    api(`/api/admin/outbox?${query()}`),
    api("/api/admin/outbox?failures=true&limit=1"),
  ]);
  state.page = page;
  state.failures = failures.total;
  renderRows();
  renderFailures();
  document.body.dataset.rows = String(page.items.length);
}

async function reload(okKey) {
  try {
    await load();
    if (okKey) showStatus($("#outbox-status"), t(okKey), "ok");
  } catch (error) {
    showStatus($("#outbox-status"), errorText(error), "error");
  }
}

// --- one row -------------------------------------------------------------------------------
function pretty(json) {
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch { return json; }
}

function renderDetail() {
  const row = state.detail;
  if (!row) return;
  $("#detail-h").textContent = t("outbox.detail_heading", { id: row.id });
  const facts = [
    ["outbox.recipient", `${userName(row.user_id)}${row.recipient ? ` – ${row.recipient}` : ""}`],
    ["outbox.kind", kindLabel(row.kind)],
    ["outbox.subject", row.subject || "–"],
    ["field.status", rowStatus(row)],
    ["outbox.created", fmtDateTime(row.created_at)],
    ["outbox.attempts", fmtNumber(row.attempts)],
    ["outbox.when", whenText(row) || "–"],
    ["outbox.last_error", row.last_error || "–"],
  ];
  $("#detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-field": k }, v)]));
  const text = row.rendered ? plainText(row.rendered) : null;
  $("#detail-text").textContent = text ?? "";
  $("#detail-source").textContent = row.rendered || "";
  show($("#detail-text"), text !== null);
  show($("#detail-source-box"), Boolean(row.rendered));
  show($("#detail-no-mail"), !row.rendered);
  $("#detail-payload").textContent = pretty(row.payload);
  show($("#detail-retry"), row.status !== "sent");
}

async function openDetail(id) {
  try {
    state.detail = await api(`/api/admin/outbox/${id}`);
  } catch (error) {
    showStatus($("#outbox-status"), errorText(error), "error");
    return;
  }
  renderDetail();
  $("#outbox-detail").hidden = false;
  $("#detail-h").focus();
}

async function retry(id) {
  try {
    await api(`/api/admin/outbox/${id}/retry`, { method: "POST" });
  } catch (error) {
    showStatus($("#outbox-status"), errorText(error), "error");
    return;
  }
  if (state.detail && state.detail.id === id) state.detail = await api(`/api/admin/outbox/${id}`);
  renderDetail();
  await reload();
  showStatus($("#outbox-status"), t("outbox.retried", { id }), "ok");
}

function wire() {
  $("#outbox-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    showStatus($("#outbox-status"), "");
    reload();
  });
  $("#page-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); reload(); });
  $("#page-next").addEventListener("click", () => { state.offset += PAGE_SIZE; reload(); });
  $("#detail-retry").addEventListener("click", () => state.detail && retry(state.detail.id));
  $("#detail-close").addEventListener("click", () => { $("#outbox-detail").hidden = true; state.detail = null; });
}

async function main() {
  await startPage({ roles: ["admin"], titleKey: "outbox.heading" });
  wire();
  if (new URLSearchParams(location.search).get("failures") === "true") $("#filter-failures").checked = true;
  state.users = await apiAll("/api/users");
  renderFilters();
  await reload();
  onLocaleChange(() => { renderFilters(); renderRows(); renderFailures(); renderDetail(); apply(document); });
  document.body.dataset.loaded = "1";
}

main();
