// An interpreter's weekly availability and absences, edited by an admin on the admin page
// (the interpreter edits their own on the console, web/js/schedule.js, whose absences use
// `wireAbsences` below too). Same API: PUT replaces all windows; absences are added and removed
// one by one. Results and errors show under their own form, where the person is looking.
import { ApiError, api, errorText } from "./api.js";
import { $, $$, el, showStatus } from "./dom.js";
import { fmtDateTime, t } from "./i18n.js";

const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];

function statusLine(id) {
  return el("p", { id, class: "status", role: "status", "aria-live": "polite" });
}

async function guard(where, action, okKey) {
  try {
    await action();
    if (okKey) showStatus(where, t(okKey), "ok");
  } catch (error) {
    showStatus(where, errorText(error), "error");
  }
}

/**
 * The absences of `base` (`/api/interpreters/{id}`): renders `list` (with a remove button each) and
 * handles `form`'s submit. Success ("Gespeichert.") and errors show in `status` under the form; a
 * field the server refuses is named by its label on the form (a last day before the first day reads
 * "Letzter Tag: …"), marked aria-invalid and focused. Returns `{ load }` to (re)fill the list.
 */
export function wireAbsences({ base, list, form, status, start, end, note, emptyText = true }) {
  const fields = { starts_at: start, ends_at: end, note };
  const labelOf = (input) => (input.labels?.[0]?.textContent || input.name || input.id).trim();

  function clearMarks() {
    for (const input of Object.values(fields)) {
      input.removeAttribute("aria-invalid");
      if (input.getAttribute("aria-describedby") === status.id) input.removeAttribute("aria-describedby");
    }
  }
  function report(error) {
    clearMarks();
    if (!error) {
      showStatus(status, t("admin.saved"), "ok");
      status.scrollIntoView({ block: "nearest" });
      return;
    }
    const wrong = error instanceof ApiError
      ? Object.entries(fields).map(([name, input]) => [input, error.fieldMessage(name)]).filter(([, message]) => message)
      : [];
    showStatus(status, wrong.length
      ? wrong.map(([input, message]) => t("error.field", { field: labelOf(input), message })).join(" ")
      : errorText(error), "error");
    for (const [input] of wrong) {
      input.setAttribute("aria-invalid", "true");
      if (!input.hasAttribute("aria-describedby")) input.setAttribute("aria-describedby", status.id);
    }
    if (wrong.length) wrong[0][0].focus();
    status.scrollIntoView({ block: "nearest" });
  }
  async function run(action) {
    try {
      await action();
      report(null);
    } catch (error) {
      report(error);
    }
  }

  async function load() {
    const absences = await api(`${base}/absences`);
    list.replaceChildren(...absences.map((a) => {
      const when = `${fmtDateTime(a.starts_at, { dateStyle: "medium" })} – ${fmtDateTime(a.ends_at, { dateStyle: "medium" })}`;
      return el("li", { "data-absence": String(a.id) }, `${when} ${a.note || ""} `,
        el("button", { type: "button", "aria-label": `${t("action.remove")}: ${when}`,
          onclick: () => run(async () => {
            await api(`${base}/absences/${a.id}`, { method: "DELETE" });
            await load();
          }) }, t("action.remove")));
    }));
    if (!absences.length && emptyText) list.append(el("li", { class: "muted" }, t("admin.no_absences")));
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run(async () => {
      await api(`${base}/absences`, { method: "POST", body: {
        starts_at: new Date(`${start.value}T00:00:00`).toISOString(), ends_at: new Date(`${end.value}T23:59:00`).toISOString(),
        note: note.value || null } });
      form.reset();
      await load();
    });
  });
  return { load };
}

function windowRow(list, w = { weekday: 0, start_time: "08:00", end_time: "16:00" }) {
  const n = list.children.length + 1;
  const day = el("select", { id: `aw-day-${n}`, name: "weekday" },
    WEEKDAYS.map((d) => el("option", { value: String(d), selected: d === w.weekday || null }, t(`weekday.${d}`))));
  const start = el("input", { id: `aw-start-${n}`, name: "start_time", type: "time", value: w.start_time.slice(0, 5), required: true });
  const end = el("input", { id: `aw-end-${n}`, name: "end_time", type: "time", value: w.end_time.slice(0, 5), required: true });
  const row = el("div", { class: "row", "data-window": "" },
    el("div", { class: "field" }, el("label", { for: day.id }, t("interp.weekday")), day),
    el("div", { class: "field" }, el("label", { for: start.id }, t("interp.from")), start),
    el("div", { class: "field" }, el("label", { for: end.id }, t("interp.to")), end),
    el("div", { class: "field" }, el("button", { type: "button", onclick: () => row.remove(),
      "aria-label": `${t("action.remove")}: ${t(`weekday.${w.weekday}`)} ${n}` }, t("action.remove"))));
  list.append(row);
}

/** Fill `root` with the editor for interpreter `userId` called `name`; focus lands on its heading. */
export async function mountAvailabilityEditor(root, { userId, name, onClose }) {
  const base = `/api/interpreters/${userId}`;
  const heading = el("h3", { id: "avail-h", tabindex: "-1" }, t("admin.availability_of", { name }));
  const windows = el("div", { id: "avail-windows" });
  const windowsStatus = statusLine("avail-status");
  const windowsForm = el("form", { id: "avail-form", "aria-labelledby": "avail-windows-h" },
    el("h4", { id: "avail-windows-h" }, t("interp.availability")), windows,
    el("div", { class: "row" },
      el("button", { type: "button", id: "avail-add", onclick: () => windowRow(windows) }, t("interp.window_add")),
      el("button", { type: "submit", class: "primary" }, t("action.save"))),
    windowsStatus);
  const absences = el("ul", { id: "avail-absences" });
  const absenceStatus = statusLine("absence-status");
  const field = (id, key, attrs) => el("div", { class: "field" }, el("label", { for: id }, t(key)), el("input", { id, ...attrs }));
  const absenceForm = el("form", { id: "avail-absence-form", "aria-labelledby": "avail-absences-h" },
    el("h4", { id: "avail-absences-h" }, t("interp.absences")), absences,
    el("div", { class: "row" },
      field("avail-absence-start", "interp.absence_start", { type: "date", required: true }),
      field("avail-absence-end", "interp.absence_end", { type: "date", required: true }),
      field("avail-absence-note", "interp.absence_note", { type: "text", maxlength: "200" }),
      el("div", { class: "field" }, el("button", { type: "submit" }, t("interp.absence_add")))),
    absenceStatus);
  const close = el("button", { type: "button", id: "avail-close", onclick: onClose }, t("action.close"));

  async function loadWindows() {
    const list = await api(`${base}/availability`);
    windows.replaceChildren();
    list.forEach((w) => windowRow(windows, w));
  }
  const absenceEditor = wireAbsences({ base, list: absences, form: absenceForm, status: absenceStatus,
    start: $("#avail-absence-start", absenceForm), end: $("#avail-absence-end", absenceForm),
    note: $("#avail-absence-note", absenceForm) });

  windowsForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { windows: $$("[data-window]", windows).map((row) => ({
      weekday: Number(row.querySelector("[name=weekday]").value),
      start_time: row.querySelector("[name=start_time]").value,
      end_time: row.querySelector("[name=end_time]").value,
    })) };
    guard(windowsStatus, async () => { await api(`${base}/availability`, { method: "PUT", body }); await loadWindows(); }, "admin.saved");
  });

  root.replaceChildren(heading, windowsForm, absenceForm, close);
  root.hidden = false;
  await Promise.all([loadWindows(), absenceEditor.load()]);
  heading.focus();
}
