// The manager dashboard: filters and grouping, key figures, the figures table, five charts each with its
// table, the staffing plan with a settable service level, rankings and interpreter pay, export links.
// Mounted by /js/manager-frame.js; every number comes from /api/reports (the same service as CLI and exports).
import { api, errorText } from "/js/api.js";
import { el, showStatus } from "/js/dom.js";
import { currentLocale, fmtNumber, onLocaleChange, t } from "/js/i18n.js";
import { chartSection, disclosure, formatCell, ranked, table } from "./render.js";
import { mountStaffing } from "./staffing.js";

const GROUPINGS = ["language", "office", "office_kind", "district", "purpose", "mode", "media", "month", "week",
  "weekday_hour"];
// [query parameter, catalog key of the label, list in /api/reports/options, catalog prefix for enum values]
const FILTERS = [
  ["office_id", "office", "offices", null], ["office_kind", "office_kind", "office_kinds", "office_kind"],
  ["district", "district", "districts", null], ["language", "language", "languages", null],
  ["purpose", "purpose", "purposes", null], ["mode", "mode", "modes", "mode"], ["media", "media", "media", "media"],
];
// Most telling first: a wide table scrolls sideways, and what is read without scrolling should matter most.
const FIGURES = ["requests", "sessions", "unmet", "fill_rate", "wait_median_s", "talk_minutes", "unmet_share",
  "wait_p90_s", "demand", "requests_on_demand", "requests_booked", "no_shows", "late_cancellations",
  "mean_rating", "problem_share"];
const WORST = 10;
const TOTALS = ["requests", "sessions", "talk_minutes", "fill_rate", "unmet", "unmet_share", "wait_median_s",
  "wait_p90_s"];
const SECTIONS = ["languages", "trend", "heatmap", "fill_rate", "gaps"];

function isoDay(d) {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Berlin" }).format(d); // YYYY-MM-DD
}

/** The default period is the last year up to today (local), the period the reports are tuned for. */
function defaultPeriod() {
  const today = new Date();
  const start = new Date(today);
  start.setFullYear(today.getFullYear() - 1);
  start.setDate(start.getDate() + 1);
  return { from: isoDay(start), to: isoDay(today) };
}

function readState() {
  const q = new URLSearchParams(location.search);
  const period = defaultPeriod();
  const groupBy = q.getAll("group_by").filter((g) => GROUPINGS.includes(g));
  return {
    from: q.get("from") || period.from,
    to: q.get("to") || period.to,
    filters: Object.fromEntries(FILTERS.map(([p]) => [p, q.get(p) || ""])),
    groupBy: groupBy.length ? groupBy : ["language"],
    serviceLevel: Number(q.get("service_level")) || 0.8,
    answerSeconds: Number(q.get("answer_seconds")) || 60,
  };
}

/** Query string of the filters (+ grouping and planning target when asked for). */
function query(state, { group = false, plan = false, extra = {} } = {}) {
  const q = new URLSearchParams();
  if (state.from) q.set("from", state.from);
  if (state.to) q.set("to", state.to);
  for (const [p] of FILTERS) if (state.filters[p]) q.set(p, state.filters[p]);
  if (group) state.groupBy.forEach((g) => q.append("group_by", g));
  if (plan) {
    q.set("service_level", String(state.serviceLevel));
    q.set("answer_seconds", String(state.answerSeconds));
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

function field(id, labelKey, control) {
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, t(labelKey)), control);
}

function filterForm(state, options, onApply) {
  const selects = FILTERS.map(([param, labelKey, list, prefix]) => {
    const values = options[list].map((o) => (typeof o === "string" ? { value: o, label: t(`${prefix}.${o}`) } : o));
    const select = el("select", { name: param },
      el("option", { value: "" }, t("manager.all")),
      values.map((o) => el("option", { value: o.value, selected: o.value === state.filters[param] }, o.label)));
    return field(`f-${param}`, `manager.col.${labelKey}`, select);
  });
  const day = (name, value) => el("input", { type: "date", name, value, min: "2000-01-01", max: "2099-12-31",
    required: true });
  const groups = el("fieldset", { class: "group-by" }, el("legend", {}, t("manager.group_by")),
    GROUPINGS.map((g) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "group_by", value: g, checked: state.groupBy.includes(g) }),
      el("span", {}, t(`manager.col.${g}`)))));
  const form = el("form", { id: "report-filters", class: "card", "aria-labelledby": "filters-h" },
    el("h2", { id: "filters-h" }, t("manager.filters")),
    el("div", { class: "filter-grid" },
      field("f-from", "manager.period_from", day("from", state.from)),
      field("f-to", "manager.period_to", day("to", state.to)),
      selects),
    groups,
    el("button", { class: "primary", type: "submit" }, t("manager.apply")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    state.from = data.get("from");
    state.to = data.get("to");
    for (const [p] of FILTERS) state.filters[p] = data.get(p) || "";
    const chosen = data.getAll("group_by");
    state.groupBy = chosen.length ? chosen : ["language"];
    onApply();
  });
  return form;
}

function planningForm(state, onApply) {
  const level = el("input", { type: "number", name: "service_level", min: "50", max: "99", step: "1", required: true,
    value: String(Math.round(state.serviceLevel * 100)), "aria-describedby": "plan-hint" });
  const seconds = el("input", { type: "number", name: "answer_seconds", min: "5", max: "600", step: "1",
    required: true, value: String(state.answerSeconds), "aria-describedby": "plan-hint" });
  const form = el("form", { id: "planning-target", class: "row" },
    field("p-level", "manager.service_level", level),
    field("p-seconds", "manager.answer_seconds", seconds),
    el("div", { class: "field" }, el("button", { class: "primary", type: "submit" }, t("manager.planning_apply"))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.serviceLevel = Number(level.value) / 100;
    state.answerSeconds = Number(seconds.value);
    onApply();
  });
  return form;
}

function exportLinks(items) {
  return el("ul", { class: "exports" }, items.map(([key, href]) =>
    el("li", {}, el("a", { class: "button", href, download: "" }, t(key)))));
}

function totals(total) {
  return el("dl", { class: "kpis", id: "report-totals" }, TOTALS.map((c) => el("div", { "data-col": c },
    el("dt", {}, t(`manager.col.${c}`)), el("dd", { "data-value": total[c] ?? "" }, formatCell(c, total[c])))));
}

/** One gap in the page's language: the server's `text` is English for the CLI and exports. */
function gapText(gap) {
  const one = (x) => fmtNumber(Math.round(x * 10) / 10);
  return t("manager.gap_text", { language: gap.language_name, weekday: t(`weekday.${gap.weekday}`),
    start: gap.start_hour, end: gap.end_hour, need: one(gap.need), have: one(gap.have) });
}

/**
 * The staffing gaps summarised: how many and how many person-hours a week are missing, the ten worst
 * (the API ranks them), and every gap behind a disclosure; a year of data has hundreds.
 */
function gapSummary(gaps) {
  const columns = ["text", "need", "have", "gap"];
  const personHours = gaps.reduce((sum, g) => sum + g.gap * (g.end_hour - g.start_hour), 0);
  const total = el("p", { id: "planning-gap-total" }, gaps.length
    ? t("manager.gaps_total", { count: fmtNumber(gaps.length), hours: fmtNumber(Math.round(personHours)) })
    : t("manager.gaps_none"));
  const full = table({ id: "planning-gaps", caption: t("manager.planning_gaps"), columns, rows: gaps });
  if (gaps.length <= WORST) return el("div", { id: "planning-gap-summary" }, total, full);
  return el("div", { id: "planning-gap-summary" }, total,
    table({ id: "planning-worst", caption: t("manager.gaps_worst", { count: fmtNumber(WORST) }), columns,
      rows: gaps.slice(0, WORST) }),
    disclosure({ id: "planning-all-gaps", summaryText: t("manager.gaps_all", { count: fmtNumber(gaps.length) }),
      content: full }));
}

function usageRows(report) {
  return report.rows.map((row) => ({ ...row, ...Object.fromEntries(report.group_by.map((g) => [g, row.label[g]])) }));
}

async function load(state) {
  const base = query(state);
  const [usage, dash, plan, unmet, growth, pay] = await Promise.all([
    api(`/api/reports/usage?${query(state, { group: true })}`),
    api(`/api/reports/dashboard?${query(state, { plan: true, extra: { lang: currentLocale() } })}`),
    api(`/api/reports/planning?${query(state, { plan: true })}`),
    api(`/api/reports/unmet?${base}`),
    api(`/api/reports/growth?${query(state, { extra: { by: "office" } })}`),
    api(`/api/reports/pay?${base}`),
  ]);
  return { usage, dash, plan, unmet, growth, pay };
}

/** Pay per interpreter and month (a year: hundreds of rows) is looked up, not read: behind a disclosure. */
function payTable(pay) {
  const full = table({ id: "pay-table", caption: t("manager.pay_caption"), rows: pay,
    columns: ["interpreter_name", "month", "sessions", "talk_minutes", "billable_minutes", "late_cancellations"] });
  if (pay.length <= WORST) return full;
  return disclosure({ id: "pay-all", summaryText: t("manager.pay_all", { count: fmtNumber(pay.length) }), content: full });
}

function render(root, state, data) {
  const { usage, dash, plan, unmet, growth, pay } = data;
  const base = query(state);
  const overview = el("section", { class: "card", id: "section-overview", "aria-labelledby": "h-overview" },
    el("h2", { id: "h-overview" }, t("manager.overview", { from: state.from, to: state.to })),
    totals(usage.total),
    el("h3", {}, t("manager.exports")),
    exportLinks([
      ["manager.export.usage_csv", `/api/reports/usage/export?${query(state, { group: true, extra: { format: "csv" } })}`],
      ["manager.export.usage_xlsx", `/api/reports/usage/export?${query(state, { group: true, extra: { format: "xlsx" } })}`],
      ["manager.export.open_data", `/api/reports/open-data.csv?${base}`],
      ["manager.export.ledger_csv", `/api/reports/ledger/export?${query(state, { extra: { format: "csv" } })}`],
    ]));
  const figures = el("section", { class: "card", id: "section-figures", "aria-labelledby": "h-figures" },
    el("h2", { id: "h-figures" }, t("manager.figures")),
    table({ id: "figures-table", caption: t("manager.figures_caption", { groups: usage.group_by.map((g) => t(`manager.col.${g}`)).join(" × ") }),
      columns: [...usage.group_by, ...FIGURES], rows: usageRows(usage), total: { ...usage.total } }));
  const byId = Object.fromEntries(dash.sections.map((s) => [s.id, s]));
  const charts = SECTIONS.filter((id) => byId[id]).map((id) => {
    const s = byId[id];
    const title = t(`manager.section.${id}`);
    return chartSection({ id, title, figure: s.figure,
      tableNode: table({ id: `table-${id}`, caption: t("manager.table_of", { title }), columns: s.columns, rows: s.rows }) });
  });
  const planning = el("section", { class: "card", id: "section-planning", "aria-labelledby": "h-planning" },
    el("h2", { id: "h-planning" }, t("manager.planning")),
    el("p", { id: "plan-hint", class: "muted" }, t("manager.planning_hint", {
      weeks: formatCell("weeks", plan.weeks), source: t(`manager.presence.${plan.presence_source}`) })),
    planningForm(state, () => refresh(root, state)),
    gapSummary(plan.gaps.map((g) => ({ ...g, text: gapText(g) }))),
    table({ id: "planning-languages", caption: t("manager.planning_languages"),
      columns: ["language_name", "requests", "arrivals_per_week", "aht_seconds", "unmet", "peak_need", "hours_short",
        "interpreters_registered", "peak_erlang_c", "peak_erlang_a"], rows: plan.languages }),
    el("p", { class: "muted", id: "planning-assumptions" }, t("manager.erlang_assumptions")),
    exportLinks([
      ["manager.export.planning_csv", `/api/reports/planning/export?${query(state, { plan: true, extra: { format: "csv" } })}`],
      ["manager.export.planning_xlsx", `/api/reports/planning/export?${query(state, { plan: true, extra: { format: "xlsx" } })}`],
    ]));
  const rankings = el("section", { class: "card", id: "section-rankings", "aria-labelledby": "h-rankings" },
    el("h2", { id: "h-rankings" }, t("manager.rankings")),
    ranked({ id: "unmet-table", caption: t("manager.unmet_ranking"), rows: unmet,
      columns: ["language_name", "demand", "unmet", "unmet_share", "unfilled", "abandoned", "no_interpreter",
        "interpreters_registered"] }),
    exportLinks([["manager.export.unmet_csv", `/api/reports/unmet/export?${query(state, { extra: { format: "csv" } })}`]]),
    ranked({ id: "growth-table", rows: growth.rows, columns: ["label", "previous", "recent", "change", "change_pct"],
      caption: t("manager.growth", { recent_from: growth.recent_from, recent_to: growth.recent_to,
        previous_from: growth.previous_from, previous_to: growth.previous_to }) }));
  const payment = el("section", { class: "card", id: "section-pay", "aria-labelledby": "h-pay" },
    el("h2", { id: "h-pay" }, t("manager.pay")),
    payTable(pay),
    exportLinks([
      ["manager.export.pay_csv", `/api/reports/pay/export?${query(state, { extra: { format: "csv" } })}`],
      ["manager.export.pay_xlsx", `/api/reports/pay/export?${query(state, { extra: { format: "xlsx" } })}`],
    ]));
  const results = root.querySelector("#report-results");
  results.replaceChildren(overview, figures, ...charts.map((c) => c.section), planning, rankings, payment);
  return Promise.all(charts.map((c) => c.draw()));
}

async function refresh(root, state) {
  const status = root.querySelector("#report-status");
  root.dataset.state = "loading";
  root.setAttribute("aria-busy", "true");
  showStatus(status, t("manager.loading"));
  history.replaceState(null, "", `?${query(state, { group: true, plan: true })}`);
  try {
    const data = await load(state);
    await render(root, state, data);
    showStatus(status, t("manager.loaded", { from: state.from, to: state.to }), "ok");
    root.dataset.state = "ready";
  } catch (error) {
    // Figures of the previous filters must not stand under the new filter values.
    root.querySelector("#report-results").replaceChildren();
    showStatus(status, t("manager.error", { detail: errorText(error) }), "error");
    root.dataset.state = "error";
  } finally {
    root.removeAttribute("aria-busy");
  }
}

async function build(root, state) {
  const options = await api("/api/reports/options");
  const staffing = el("div", { id: "staffing" });  // web/manager/staffing.js: plan, gaps, coverage, what-if
  const apply = () => {
    mountStaffing(staffing, query(state));
    return refresh(root, state);
  };
  root.replaceChildren(
    filterForm(state, options, apply),
    el("p", { id: "report-status", class: "status", role: "status", "aria-live": "polite" }),
    el("div", { id: "report-results" }),
    staffing);
  await apply();
}

/** Entry point called by the manager frame once the user is signed in and the catalog is loaded. */
export async function mount(root) {
  const state = readState();
  onLocaleChange(() => build(root, state));
  await build(root, state);
}
