// Admin pages: offices, users, languages, interpreter qualifications (one page, one section per hash).
import { api, apiAll, errorText } from "./api.js";
import { $, $$, el, showStatus } from "./dom.js";
import { apply, currentLocale, languageName, onLocaleChange, t } from "./i18n.js";
import { startPage } from "./shell.js";
import { mountAvailabilityEditor } from "./availabilityeditor.js";

const OFFICE_KINDS = ["immigration_office", "job_centre", "social_welfare_office", "youth_welfare_office",
  "reception_centre", "state_office", "other"];
const ROLES = ["caseworker", "interpreter", "manager", "admin"];
const QUALIFICATIONS = ["sworn", "certified", "trained", "other"];
const GENDERS = ["", "female", "male", "diverse"];
const data = { offices: [], districts: [], users: [], languages: [], interpreters: [] };
const status = () => $("#admin-status");
let me = null;

function options(select, values, labelOf, selected) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, selected: v === selected || null }, labelOf(v))));
}

function yesNo(value) { return t(value ? "common.yes" : "common.no"); }

/** The message line right under `form` (made on first use), so a result shows where the person looks. */
function statusNear(form) {
  if (!form) return status();
  let node = form.nextElementSibling;
  if (!node || !node.matches("[data-form-status]")) {
    node = el("p", { class: "status", role: "status", "aria-live": "polite", "data-form-status": "" });
    form.after(node);
  }
  return node;
}

async function run(action, okKey, form = null) {
  const where = statusNear(form);
  try {
    await action();
    if (okKey) showStatus(where, t(okKey), "ok");
    return true;
  } catch (error) {
    showStatus(where, errorText(error), "error");
    return false;
  }
}

/** Activate at once; deactivate only after the admin confirmed it (it ends sign-ins and offers). */
function toggleButton(active, label, onclick, { disabled = false } = {}) {
  const guarded = () => { if (!active || window.confirm(t("admin.confirm_deactivate", { name: label }))) onclick(); };
  return el("button", { type: "button", "aria-label": `${t(active ? "action.deactivate" : "action.activate")}: ${label}`,
    onclick: guarded, disabled: disabled || null },
  t(active ? "action.deactivate" : "action.activate"));
}

/** Sort by a display name as a German (or English) reader expects: "Sömmerda" before "Suhl". */
function byName(key) {
  const collator = new Intl.Collator(currentLocale());
  return (a, b) => collator.compare(key(a), key(b));
}

// --- offices ---------------------------------------------------------------------------
function renderOffices() {
  const district = (ags) => (data.districts.find((d) => d.ags === ags) || { name: ags }).name;
  data.offices.sort(byName((o) => o.name));
  $("#offices-body").replaceChildren(...data.offices.map((o) => el("tr", {},
    el("td", {}, o.name), el("td", {}, t(`office_kind.${o.kind}`)), el("td", {}, `${district(o.district_ags)} (${o.district_ags})`),
    el("td", {}, yesNo(o.active)),
    el("td", {}, toggleButton(o.active, o.name, () => run(async () => {
      await api(`/api/offices/${o.id}`, { method: "PATCH", body: { active: !o.active } });
      await loadOffices();
    }, "admin.saved"))))));
  options($("#office-kind"), OFFICE_KINDS, (k) => t(`office_kind.${k}`));
  options($("#office-district"), data.districts.map((d) => d.ags), (ags) => `${district(ags)} (${ags})`);
  options($("#user-office"), ["", ...data.offices.map((o) => String(o.id))],
    (id) => (id ? data.offices.find((o) => String(o.id) === id).name : t("admin.no_office")));
}

async function loadOffices() {
  data.offices = await apiAll("/api/offices");
  renderOffices();
}

// --- users -----------------------------------------------------------------------------
function renderUsers() {
  const q = $("#user-filter").value.trim().toLowerCase();
  const office = (id) => (data.offices.find((o) => o.id === id) || { name: "–" }).name;
  const rows = data.users.filter((u) => !q || `${u.username} ${u.display_name}`.toLowerCase().includes(q));
  $("#users-body").replaceChildren(...rows.map((u) => el("tr", {},
    el("td", {}, u.username), el("td", {}, u.display_name), el("td", {}, t(`role.${u.role}`)),
    el("td", {}, u.office_id ? office(u.office_id) : "–"), el("td", {}, yesNo(u.active)),
    el("td", {}, toggleButton(u.active, u.username, () => run(async () => {
      await api(`/api/users/${u.id}`, { method: "PATCH", body: { active: !u.active } });
      await loadUsers();
    }, "admin.saved"), { disabled: u.id === me?.id && u.active })))));
  options($("#user-role"), ROLES, (r) => t(`role.${r}`), $("#user-role").value || "caseworker");
}

async function loadUsers() {
  data.users = await apiAll("/api/users");
  renderUsers();
}

// --- languages -------------------------------------------------------------------------
function renderLanguages() {
  $("#languages-body").replaceChildren(...data.languages.map((l) => el("tr", {},
    el("td", {}, l.code), el("td", {}, l.name_de), el("td", { lang: "en" }, l.name_en),
    el("td", { lang: l.code, dir: l.rtl ? "rtl" : "ltr" }, l.name_native),
    el("td", {}, [l.rtl ? t("field.rtl") : "", l.sign_language ? t("field.sign_language") : ""].filter(Boolean).join(", ") || "–"),
    el("td", {}, yesNo(l.active)),
    el("td", {}, toggleButton(l.active, l.name_de, () => run(async () => {
      await api(`/api/languages/${encodeURIComponent(l.code)}`, { method: "PATCH", body: { active: !l.active } });
      await loadLanguages();
    }, "admin.saved"))))));
}

async function loadLanguages() {
  data.languages = await api("/api/languages");
  renderLanguages();
}

// --- interpreters ----------------------------------------------------------------------
function userName(id) { return (data.users.find((u) => u.id === id) || { display_name: `#${id}` }).display_name; }

function renderInterpreters() {
  const langName = (code) => { const l = data.languages.find((x) => x.code === code); return l ? languageName(l) : code; };
  $("#interpreters-body").replaceChildren(...data.interpreters.map((p) => el("tr", {},
    el("td", {}, userName(p.user_id)),
    el("td", {}, p.languages.map((l) => `${langName(l.language_code)} (${t(`qualification.${l.qualification}`)})`).join(", ") || "–"),
    el("td", {}, p.gender ? t(`gender.${p.gender}`) : "–"),
    el("td", {}, t(`istatus.${p.status}`)),
    el("td", {}, el("button", { type: "button", "aria-label": `${t("action.edit")}: ${userName(p.user_id)}`,
      onclick: () => editInterpreter(p) }, t("action.edit")), " ",
    el("button", { type: "button", "aria-label": `${t("admin.availability")}: ${userName(p.user_id)}`,
      onclick: () => editAvailability(p) }, t("admin.availability"))))));
}

function qualRow(code = "", qualification = "trained") {
  const index = $$("#qual-rows .row").length + 1;
  const langSelect = el("select", { id: `qual-lang-${index}`, name: "language_code" });
  options(langSelect, data.languages.map((l) => l.code), (c) => `${languageName(data.languages.find((l) => l.code === c))} (${c})`, code);
  const qualSelect = el("select", { id: `qual-q-${index}`, name: "qualification" });
  options(qualSelect, QUALIFICATIONS, (q) => t(`qualification.${q}`), qualification);
  const row = el("div", { class: "row" },
    el("div", { class: "field" }, el("label", { for: langSelect.id }, t("field.language")), langSelect),
    el("div", { class: "field" }, el("label", { for: qualSelect.id }, t("field.qualification")), qualSelect),
    el("div", { class: "field" }, el("button", { type: "button", onclick: () => row.remove() }, t("action.remove"))));
  $("#qual-rows").append(row);
}

let editing = null;
function editInterpreter(profile) {
  editing = profile;
  $("#avail-editor").hidden = true;
  const form = $("#qual-form");
  $("#qual-h").textContent = t("admin.qualifications_of", { name: userName(profile.user_id) });
  $("#qual-rows").replaceChildren();
  profile.languages.forEach((l) => qualRow(l.language_code, l.qualification));
  options($("#qual-gender"), GENDERS, (g) => (g ? t(`gender.${g}`) : t("gender.unspecified")), profile.gender || "");
  $("#qual-max").value = profile.max_session_minutes;
  form.hidden = false;
  $("#qual-h").tabIndex = -1;
  $("#qual-h").focus();
}

function editAvailability(profile) {
  $("#qual-form").hidden = true;
  const root = $("#avail-editor");
  run(() => mountAvailabilityEditor(root, { userId: profile.user_id, name: userName(profile.user_id),
    onClose: () => { root.hidden = true; root.replaceChildren(); } }), null, root);
}

async function loadInterpreters() {
  data.interpreters = await apiAll("/api/interpreters");
  renderInterpreters();
}

function formData(form) {
  const body = {};
  for (const [key, value] of new FormData(form)) if (value !== "") body[key] = value;
  return body;
}

function wireForms() {
  $("#office-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(async () => { await api("/api/offices", { method: "POST", body: formData(e.target) }); e.target.reset(); await loadOffices(); },
      "admin.created", e.target);
  });
  $("#user-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = formData(e.target);
    if (body.office_id) body.office_id = Number(body.office_id);
    // A new interpreter belongs in the interpreters' list at once, not after a reload.
    run(async () => {
      const created = await api("/api/users", { method: "POST", body });
      e.target.reset();
      await loadUsers();
      if (created.role === "interpreter") await loadInterpreters();
    }, "admin.created", e.target);
  });
  $("#user-filter").addEventListener("input", renderUsers);
  $("#language-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = formData(e.target);
    body.rtl = e.target.rtl.checked;
    body.sign_language = e.target.sign_language.checked;
    run(async () => { await api("/api/languages", { method: "POST", body }); e.target.reset(); await loadLanguages(); }, "admin.created", e.target);
  });
  $("#qual-add").addEventListener("click", () => qualRow());
  $("#qual-cancel").addEventListener("click", () => { $("#qual-form").hidden = true; });
  $("#qual-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const languages = $$("#qual-rows .row").map((row) => ({
      language_code: row.querySelector("[name=language_code]").value,
      qualification: row.querySelector("[name=qualification]").value,
    }));
    const body = { languages, max_session_minutes: Number($("#qual-max").value) };
    if ($("#qual-gender").value) body.gender = $("#qual-gender").value;
    run(async () => {
      await api(`/api/interpreters/${editing.user_id}`, { method: "PATCH", body });
      $("#qual-form").hidden = true;
      await loadInterpreters();
    }, "admin.saved", e.target);
  });
}

function showSection() {
  const id = (location.hash || "#offices").slice(1);
  $$("main > section").forEach((s) => { s.hidden = s.id !== id; });
  $$("main nav a").forEach((a) => a.setAttribute("aria-current", a.hash === `#${id}` ? "page" : "false"));
}

async function main() {
  me = await startPage({ roles: ["admin"], titleKey: "admin.heading" });
  wireForms();
  showSection();
  window.addEventListener("hashchange", showSection);
  data.districts = await api("/api/districts");
  await Promise.all([loadOffices(), loadLanguages()]);
  await loadUsers();
  await loadInterpreters();
  onLocaleChange(() => { renderOffices(); renderUsers(); renderLanguages(); renderInterpreters(); apply(document); });
  document.body.dataset.loaded = "1";
}

main();
