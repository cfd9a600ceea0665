// Rendering helpers of the manager dashboard: formatted tables (every chart has one) and plotly charts.
import { el } from "/js/dom.js";
import { currentLocale, fmtNumber, t } from "/js/i18n.js";

const SHARES = new Set(["fill_rate", "unmet_share", "problem_share", "change_pct"]);
const LABELS = new Set(["language", "language_name", "office", "office_kind", "district", "purpose", "mode", "media",
  "month", "week", "weekday_hour", "text", "interpreter_name", "label"]);

const MONTH = /^\d{4}-\d{2}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const tag = () => (currentLocale() === "de" ? "de-DE" : "en-GB");

/** "2026-08" → "August 2026" / "Aug 2026"; "2025-11-29" → "29.11.2025" / "29 Nov 2025" (the page's locale). */
export function formatDateText(value) {
  if (MONTH.test(value)) {
    return new Intl.DateTimeFormat(tag(), { month: "short", year: "numeric", timeZone: "UTC" }).format(new Date(`${value}-01T00:00:00Z`));
  }
  if (DAY.test(value)) {
    return new Intl.DateTimeFormat(tag(), { dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${value}T00:00:00Z`));
  }
  return value;
}

/** The text of one cell: shares as percent, numbers and dates in the UI locale, missing values as a dash. */
export function formatCell(column, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "string" && value.startsWith("<")) return value; // a suppressed small count
  if (typeof value === "string") return formatDateText(value);
  if (typeof value !== "number") return String(value);
  if (SHARES.has(column)) {
    const tag = currentLocale() === "de" ? "de-DE" : "en-GB";
    return new Intl.NumberFormat(tag, { style: "percent", maximumFractionDigits: 1 }).format(value);
  }
  return fmtNumber(value);
}

/** The column heading: a grouping or a figure, always from the catalog. */
export function columnTitle(column) {
  return t(`manager.col.${column}`);
}

/**
 * A table with a caption; `rows` are objects keyed by column. Each numeric cell carries its raw
 * value in data-value (the tests compare it with the API). Wide tables scroll inside a focusable region.
 */
export function table({ id, caption, columns, rows, total = null, rowHeader = columns[0] }) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: LABELS.has(c) ? "" : "num" },
    columnTitle(c))));
  const line = (row, isTotal = false) => el("tr", {}, columns.map((c) => {
    const value = isTotal && c === rowHeader ? t("manager.total") : row[c];
    const attrs = { class: LABELS.has(c) ? "" : "num", "data-col": c };
    if (typeof row[c] === "number" || row[c] === null) attrs["data-value"] = row[c] === null ? "" : String(row[c]);
    else if (typeof row[c] === "string" && row[c] !== formatCell(c, row[c])) attrs["data-value"] = row[c];  // the raw date
    return c === rowHeader ? el("th", { ...attrs, scope: "row" }, formatCell(c, value)) : el("td", attrs, formatCell(c, value));
  }));
  const body = rows.length
    ? rows.map((r) => line(r))
    : [el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, t("manager.empty")))];
  const parts = [el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, body)];
  if (total) parts.push(el("tfoot", {}, line(total, true)));
  return el("div", { class: "scroll", role: "region", tabindex: "0", "aria-label": caption },
    el("table", { id }, parts));
}

const TOP = 10;

/**
 * A disclosure (closed) holding a long table: the page stays a summary, every row is one click away.
 * `summaryText` says what opening it shows.
 */
export function disclosure({ id, summaryText, content }) {
  return el("details", { id, class: "all-rows" }, el("summary", {}, summaryText), content);
}

/**
 * A ranked table summarised: its first ten rows in view (caption says "first 10 of N"), the whole
 * table (id `id`) behind a disclosure. Short tables are shown whole.
 */
export function ranked({ id, caption, columns, rows, top = TOP }) {
  if (rows.length <= top) return table({ id, caption, columns, rows });
  return el("div", { class: "ranked", id: `${id}-ranked` },
    table({ id: `${id}-top`, columns, rows: rows.slice(0, top),
      caption: t("manager.top_caption", { caption, count: fmtNumber(top), total: fmtNumber(rows.length) }) }),
    disclosure({ id: `${id}-all`, summaryText: t("manager.rows_all", { count: fmtNumber(rows.length) }),
      content: table({ id, caption, columns, rows }) }));
}

let plotlyLoading = null;

/** plotly.js from the server (the copy bundled with the Python package), loaded once, on first use. */
export function loadPlotly() {
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = el("script", { src: "/static/vendor/plotly.min.js" });
      script.addEventListener("load", () => resolve(window.Plotly));
      script.addEventListener("error", () => reject(new Error("plotly.js did not load")));
      document.head.append(script);
    });
  }
  return plotlyLoading;
}

/** Draw a figure the server built (data + layout) into `node`: zoom, hover and legend toggles work. */
export async function plot(node, figure) {
  const Plotly = await loadPlotly();
  const layout = { ...figure.layout, autosize: true, height: 360, font: { size: 13, color: "#1b1f24" },
    separators: currentLocale() === "de" ? ",." : ".," };
  // A monthly series: ticks and hover show months, never a time of day at the month's edge.
  const monthly = (x) => typeof x === "string" && /^\d{4}-\d{2}(-01([ T]00:00(:00)?)?)?$/.test(x);
  const months = figure.data.some((trace) => (trace.x || []).length > 0 && (trace.x || []).every(monthly));
  if (months) {
    const format = currentLocale() === "de" ? "%m.%Y" : "%b %Y";
    layout.xaxis = { ...(figure.layout?.xaxis || {}), type: "date", tickformat: format, hoverformat: format, dtick: "M1" };
  }
  await Plotly.react(node, figure.data, layout, {
    responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"],
  });
}

/** A chart section: heading, the chart (with a pointer to its table) and the table beside it. */
export function chartSection({ id, title, figure, tableNode }) {
  const chart = el("div", { class: "chart", id: `chart-${id}` });
  const section = el("section", { class: "card chart-section", id: `section-${id}`, "aria-labelledby": `h-${id}` },
    el("h2", { id: `h-${id}` }, title),
    el("div", { class: "chart-pair" },
      el("figure", {},
        chart,
        el("figcaption", { class: "muted" }, t("manager.chart_hint"))),
      tableNode));
  return { section, draw: () => plot(chart, figure) };
}
