// The dashboard's staffing section (issue 15, item 12): head count needed vs online per hour of the week,
// the ten worst gaps as sentences, the coverage heat map with response promises, and the what-if form.
// Its own file and section so the rest of the dashboard stays as it is; numbers come from /api/reports/plan,
// /coverage and /what-if (the same service functions as `videodolmetschen report plan|coverage|what-if`).
import { api, errorText } from "/js/api.js";
import { el, showStatus } from "/js/dom.js";
import { fmtNumber, t } from "/js/i18n.js";
import { plot } from "./render.js";

const HOURS = 168;
const HEATMAP_LANGUAGES = 20; // the busiest; the table beside lists all
const pct = (x) => `${fmtNumber(Math.round(x * 1000) / 10)} %`;
const round1 = (x) => fmtNumber(Math.round(x * 10) / 10);

function hourLabel(how) {
  return t("staffing.hour_label", { day: t(`staffing.day_short.${Math.floor(how / 24)}`), hour: how % 24 });
}

function simpleTable({ id, caption, columns, rows }) {
  return el("div", { class: "scroll", role: "region", tabindex: "0", "aria-label": caption },
    el("table", { id },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, columns.map(([key], i) =>
        el("th", { scope: "col", class: i ? "num" : "" }, t(`staffing.col.${key}`))))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([key, format], i) => {
        const attrs = { "data-col": key, "data-value": String(row[key]), class: i ? "num" : "" };
        return i ? el("td", attrs, format(row[key])) : el("th", { ...attrs, scope: "row" }, format(row[key]));
      }))))));
}

function gapSentence(gap) {
  return t("staffing.gap", { day: t(`weekday.${gap.weekday}`), from: gap.start_hour, to: gap.end_hour,
    needed: gap.needed, online: round1(gap.online), short: round1(gap.short) });
}

function summary(plan) {
  const lines = [
    t("staffing.targets", { level: pct(plan.target.service_level), seconds: plan.target.answer_seconds,
      volume: fmtNumber(plan.target.volume_per_week), coverage: pct(plan.target.coverage) }),
    t("staffing.summary", { plan: fmtNumber(plan.plan_hours), erlang: fmtNumber(Math.round(plan.erlang_hours)),
      saves: fmtNumber(Math.round(plan.pooling_saves_hours)),
      ratio: plan.plan_vs_erlang_ratio === null ? "–" : fmtNumber(plan.plan_vs_erlang_ratio) }),
  ];
  if (plan.max_shortfall_pp !== null) lines.push(t("staffing.check", { shortfall: fmtNumber(plan.max_shortfall_pp) }));
  if (plan.stopped_early) lines.push(t("staffing.stopped", { reason: plan.stop_reason }));
  return el("div", { id: "staffing-summary" }, lines.map((text) => el("p", {}, text)));
}

// Hours of the week on a numeric axis with one tick per day (168 category labels would overlap).
const WEEK_AXIS = () => ({ tickmode: "array", tickvals: Array.from({ length: 7 }, (_, d) => d * 24),
  ticktext: Array.from({ length: 7 }, (_, d) => t(`staffing.day_short.${d}`)), range: [-0.5, HOURS - 0.5] });
const HOVER = Array.from({ length: HOURS }, (_, how) => how);

function headcountFigure(plan) {
  const x = HOVER;
  const text = plan.hours.map((_, how) => hourLabel(how));
  return {
    data: [
      { type: "bar", name: t("staffing.trace.needed"), x, text, y: plan.hours.map((h) => h.people),
        marker: { color: "#1f5fa8" }, hovertemplate: "%{text}: %{y}<extra></extra>", textposition: "none" },
      { type: "scatter", mode: "lines", name: t("staffing.trace.online"), x, text, y: plan.hours.map((h) => h.online),
        line: { color: "#b35c00", width: 2, shape: "hv" }, hovertemplate: "%{text}: %{y:.1f}<extra></extra>" },
      { type: "scatter", mode: "lines", name: t("staffing.trace.erlang"), x, text,
        y: plan.hours.map((h) => h.erlang_c_sum), line: { color: "#5f6b7a", dash: "dot", shape: "hv" },
        hovertemplate: "%{text}: %{y:.1f}<extra></extra>" },
    ],
    layout: { margin: { t: 10, r: 10, b: 40, l: 50 }, legend: { orientation: "h" }, xaxis: WEEK_AXIS(), bargap: 0 },
  };
}

function coverageFigure(coverage) {
  const rows = coverage.languages.slice(0, HEATMAP_LANGUAGES);
  return {
    // Red where nobody speaks the language, blue where someone surely does.
    data: [{ type: "heatmap", zmin: 0, zmax: 1, colorscale: [[0, "#b2182b"], [0.5, "#f7e8b0"], [1, "#2166ac"]],
      x: HOVER, y: rows.map((r) => r.language_name), z: rows.map((r) => r.hours_coverage),
      text: rows.map(() => HOVER.map(hourLabel)), hovertemplate: "%{y}, %{text}: %{z:.0%}<extra></extra>" }],
    layout: { margin: { t: 10, r: 10, b: 40, l: 110 }, yaxis: { autorange: "reversed" }, xaxis: WEEK_AXIS() },
  };
}

function whatIfForm(planQuery, coverage) {
  const names = Object.fromEntries(coverage.languages.map((r) => [r.language, r.language_name]));
  const languages = el("select", { name: "add_language", multiple: true, size: "6", id: "whatif-languages" },
    coverage.languages.map((r) => el("option", { value: r.language }, r.language_name)));
  const days = el("fieldset", { class: "group-by" }, el("legend", {}, t("staffing.whatif_days")),
    Array.from({ length: 7 }, (_, d) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "day", value: String(d), checked: d < 5 }),
      el("span", {}, t(`weekday.${d}`)))));
  const hour = (name, value, id) => el("input", { type: "number", name, id, min: "0", max: "24", step: "1",
    value: String(value), required: true });
  const result = el("div", { id: "whatif-result", role: "status", "aria-live": "polite" });
  const form = el("form", { id: "whatif-form" },
    el("div", { class: "field" }, el("label", { for: "whatif-languages" }, t("staffing.whatif_languages")), languages),
    days,
    el("div", { class: "row" },
      el("div", { class: "field" }, el("label", { for: "whatif-start" }, t("staffing.whatif_start")),
        hour("start_hour", 8, "whatif-start")),
      el("div", { class: "field" }, el("label", { for: "whatif-end" }, t("staffing.whatif_end")),
        hour("end_hour", 16, "whatif-end")),
      el("div", { class: "field" }, el("button", { class: "primary", type: "submit" }, t("staffing.whatif_submit")))),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const chosen = data.getAll("add_language");
    if (!chosen.length) {
      showStatus(result, t("staffing.whatif_pick"), "error");
      languages.focus();
      return;
    }
    const end = form.querySelector("#whatif-end");
    end.removeAttribute("aria-invalid");
    if (Number(data.get("end_hour")) <= Number(data.get("start_hour"))) {
      // Said here, by the field's own label, rather than as the server's refusal of the whole plan.
      end.setAttribute("aria-invalid", "true");
      showStatus(result, t("error.field", { field: t("staffing.whatif_end"), message: t("error.validation.window_order") }), "error");
      end.focus();
      return;
    }
    const q = new URLSearchParams(planQuery);
    chosen.forEach((code) => q.append("add_language", code));
    data.getAll("day").forEach((d) => q.append("day", d));
    q.set("start_hour", data.get("start_hour"));
    q.set("end_hour", data.get("end_hour"));
    form.dataset.state = "loading";
    showStatus(result, t("staffing.whatif_running"));
    try {
      const report = await api(`/api/reports/what-if?${q}`);
      const signed = (x) => (x > 0 ? `+${fmtNumber(x)}` : fmtNumber(x));
      result.replaceChildren(
        el("p", { id: "whatif-total" }, t("staffing.whatif_total", { change: signed(report.total_change_per_week) })),
        report.languages.length
          ? el("ul", { id: "whatif-rows" }, report.languages.map((row) => el("li", { "data-language": row.language },
            t("staffing.whatif_row", { language: names[row.language] || row.language,
              before: fmtNumber(row.unfilled_per_week_before), after: fmtNumber(row.unfilled_per_week_after),
              change: signed(row.change_per_week) }))))
          : el("p", {}, t("staffing.whatif_none")));
      form.dataset.state = "ready";
    } catch (error) {
      showStatus(result, t("staffing.whatif_error", { detail: errorText(error) }), "error");
      form.dataset.state = "error";
    }
  });
  return form;
}

function trainingBlock(planQuery, coverage) {
  const names = Object.fromEntries(coverage.languages.map((r) => [r.language, r.language_name]));
  const name = (code) => names[code] || code;
  const result = el("div", { id: "training-result", role: "status", "aria-live": "polite" });
  const button = el("button", { type: "button", id: "training-run" }, t("staffing.training_submit"));
  const block = el("div", { id: "training" }, el("p", { class: "muted" }, t("staffing.training_hint")), button, result);
  button.addEventListener("click", async () => {
    block.dataset.state = "loading";
    showStatus(result, t("staffing.training_running"));
    try {
      const report = await api(`/api/reports/training?${planQuery}`);
      const rows = report.candidates.filter((c) => c.unfilled_removed_per_week > 0).slice(0, 10);
      result.replaceChildren(
        rows.length
          ? el("ol", { id: "training-rows" }, rows.map((c) => el("li", {}, t("staffing.training_row", {
            profile: c.from_profile.split("+").map(name).join(" + "), learns: name(c.learns),
            removed: fmtNumber(c.unfilled_removed_per_week) }))))
          : el("p", {}, t("staffing.training_none")),
        report.stopped_early ? el("p", { class: "muted" }, t("staffing.training_stopped")) : "");
      block.dataset.state = "ready";
    } catch (error) {
      showStatus(result, t("staffing.training_error", { detail: errorText(error) }), "error");
      block.dataset.state = "error";
    }
  });
  return block;
}

/** The plan is fitted from the dashboard's period: its length in weeks (1–104). */
function periodWeeks(q) {
  const days = (Date.parse(q.get("to")) - Date.parse(q.get("from"))) / 86_400_000 + 1;
  return Number.isFinite(days) ? Math.min(104, Math.max(1, Math.ceil(days / 7))) : 12;
}

/** Fill `container` with the staffing section for the dashboard's period (`baseQuery`: from, to, filters). */
export async function mountStaffing(container, baseQuery) {
  const status = el("p", { id: "staffing-status", class: "status", role: "status", "aria-live": "polite" });
  const section = el("section", { class: "card", id: "section-staffing", "aria-labelledby": "h-staffing" },
    el("h2", { id: "h-staffing" }, t("staffing.heading")), status);
  container.replaceChildren(section);
  container.dataset.state = "loading";
  showStatus(status, t("staffing.loading"));
  try {
    const q = new URLSearchParams(baseQuery);
    q.set("weeks", String(periodWeeks(q)));
    const coverageQuery = new URLSearchParams(q);
    coverageQuery.delete("language");
    coverageQuery.delete("weeks");
    const [plan, coverage] = await Promise.all([
      api(`/api/reports/plan?${q}&max_seconds=20`),
      api(`/api/reports/coverage?${coverageQuery}`),
    ]);
    const chart = el("div", { class: "chart", id: "staffing-chart" });
    const heat = el("div", { class: "chart", id: "coverage-chart" });
    const gaps = plan.gaps.length
      ? el("ol", { id: "staffing-gaps" }, plan.gaps.map((g) => el("li", {}, gapSentence(g))))
      : el("p", { id: "staffing-gaps" }, t("staffing.no_gaps"));
    section.append(
      summary(plan),
      el("div", { class: "chart-pair" },
        el("figure", {}, el("figcaption", {}, t("staffing.chart")), chart),
        simpleTable({ id: "staffing-hours", caption: t("staffing.hours_table"),
          columns: [["hour", hourLabel], ["needed", fmtNumber], ["online", round1], ["erlang", round1]],
          rows: plan.hours.map((h, how) => ({ hour: how, needed: h.people, online: h.online, erlang: h.erlang_c_sum })) })),
      el("h3", {}, t("staffing.gaps")), gaps,
      el("h3", {}, t("staffing.coverage")),
      el("p", { class: "muted" }, t("staffing.coverage_hint", { target: pct(coverage.params.tier_target) })),
      el("div", { class: "chart-pair" },
        el("figure", {}, heat),
        simpleTable({ id: "coverage-table", caption: t("staffing.coverage_table"),
          columns: [["language", (x) => x], ["requests", round1], ["coverage", pct], ["unfilled", pct],
            ["tier", (x) => t(`staffing.tier.${x}`)]],
          rows: coverage.languages.map((r) => ({ language: r.language_name, requests: r.requests_per_week,
            coverage: r.coverage, unfilled: r.unfilled_share, tier: r.tier })) })),
      el("h3", {}, t("staffing.exports")),
      el("ul", { class: "exports" }, [
        ["staffing.export.plan_csv", `/api/reports/plan/export?${q}&max_seconds=20&format=csv`],
        ["staffing.export.plan_xlsx", `/api/reports/plan/export?${q}&max_seconds=20&format=xlsx`],
        ["staffing.export.coverage_csv", `/api/reports/coverage/export?${coverageQuery}&format=csv`],
      ].map(([key, href]) => el("li", {}, el("a", { class: "button", href, download: "" }, t(key))))),
      el("h3", {}, t("staffing.whatif")),
      whatIfForm(q, coverage),
      el("h3", {}, t("staffing.training")),
      trainingBlock(q, coverage));
    await Promise.all([plot(chart, headcountFigure(plan)), plot(heat, coverageFigure(coverage))]);
    showStatus(status, t("staffing.ready"), "ok");
    container.dataset.state = "ready";
  } catch (error) {
    showStatus(status, t("staffing.error", { detail: errorText(error) }), "error");
    container.dataset.state = "error";
  }
}
