// My settings: e-mail address and interface language (PATCH /api/users/me), and which
// notifications come by e-mail (GET/PUT /api/notifications/preferences). Every role has this page.
import { api, errorText } from "./api.js";
import { $, el, show, showStatus } from "./dom.js";
import { apply, onLocaleChange, setLocale, t } from "./i18n.js";
import { startPage } from "./shell.js";

const state = { me: null, items: [] };
window.__vd = { state };

// --- profile: address and language -------------------------------------------------------
function fieldError(text) {
  const input = $("#pref-email");
  $("#pref-email-error").textContent = text || "";
  if (text) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function showProfile() {
  $("#pref-email").value = state.me.email || "";
  $("#pref-locale").value = state.me.locale === "en" ? "en" : "de";
  show($("#kinds-no-email"), !state.me.email && state.items.length > 0);
}

async function saveProfile(event) {
  event.preventDefault();
  fieldError("");
  showStatus($("#profile-status"), "");
  const email = $("#pref-email").value.trim();
  const locale = $("#pref-locale").value;
  try {
    state.me = await api("/api/users/me", { method: "PATCH", body: { email: email || null, locale } });
  } catch (error) {
    // The server's own words belong next to the field they are about (e.g. an invalid address).
    const message = error.status === 422 ? error.fieldMessage("email") : null;
    if (message) {
      fieldError(t("prefs.email_invalid", { detail: message }));
      $("#pref-email").focus();
    } else {
      showStatus($("#profile-status"), errorText(error), "error");
    }
    return;
  }
  showProfile();
  await setLocale(state.me.locale, { remember: true });
  showStatus($("#profile-status"), t("prefs.profile_saved"), "ok");
}

// --- notification kinds ------------------------------------------------------------------
/** Draw the switches; `keepChoices` keeps unsaved ticks (a language change redraws the labels). */
function renderKinds({ keepChoices = false } = {}) {
  const list = $("#kinds-list");
  list.replaceChildren(...state.items.map(({ kind, email: saved }) => {
    const id = `kind-${kind}`;
    const box = $(`#${id}`);
    const email = keepChoices && box ? box.checked : saved;
    return el("li", {},
      el("label", { class: "check", for: id },
        el("input", { type: "checkbox", id, name: kind, checked: email, "aria-describedby": `${id}-hint` }),
        el("span", {}, t(`notify.kind.${kind}`))),
      el("small", { id: `${id}-hint`, class: "muted" }, t(`notify.hint.${kind}`)));
  }));
  const none = state.items.length === 0;
  show($("#kinds-none"), none);
  show(list, !none);
  show($("#kinds-form button[type=submit]"), !none);
}

async function saveKinds(event) {
  event.preventDefault();
  const items = state.items.map(({ kind }) => ({ kind, email: $(`#kind-${kind}`).checked }));
  try {
    const read = await api("/api/notifications/preferences", { method: "PUT", body: { items } });
    state.items = read.items;
    renderKinds();
    showStatus($("#kinds-status"), t("prefs.saved"), "ok");
  } catch (error) {
    showStatus($("#kinds-status"), errorText(error), "error");
  }
}

async function main() {
  state.me = await startPage({ titleKey: "prefs.heading" });
  const read = await api("/api/notifications/preferences");
  state.items = read.items;
  renderKinds();
  showProfile();
  $("#profile-form").addEventListener("submit", saveProfile);
  $("#kinds-form").addEventListener("submit", saveKinds);
  $("#pref-email").addEventListener("input", () => fieldError(""));
  onLocaleChange(() => {
    // The header's switch changes the server's locale too; keep the select in step with it.
    state.me.locale = document.documentElement.lang;
    $("#pref-locale").value = state.me.locale;
    renderKinds({ keepChoices: true });
    apply(document);
  });
  document.body.dataset.loaded = "1";
}

main();
