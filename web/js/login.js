// Sign-in: POST /api/auth/login sets the HttpOnly session cookie; then go to the role's home.
import { api, ApiError, errorText } from "./api.js";
import { $, showStatus } from "./dom.js";
import { currentLocale, preferredLocale, setLocale, t } from "./i18n.js";
import { HOME } from "./shell.js";

function safeNext() {
  // Only a path on this very origin: an open redirect on a login page is a phishing aid. The
  // browser's own URL parser decides (it reads "/\\evil.example" and "/\t/evil.example" as
  // another host), never a string test of ours.
  const next = new URLSearchParams(location.search).get("next");
  if (!next) return null;
  let target;
  try {
    target = new URL(next, location.origin);
  } catch {
    return null;
  }
  if (target.origin !== location.origin || target.pathname.startsWith("/login")) return null;
  return target.pathname + target.search + target.hash;
}

async function main() {
  await setLocale(preferredLocale(navigator.language.slice(0, 2)));
  const toggle = $("#locale-switch");
  const syncToggle = () => { toggle.lang = currentLocale() === "de" ? "en" : "de"; document.title = t("login.title"); };
  syncToggle();
  toggle.addEventListener("click", async () => {
    await setLocale(currentLocale() === "de" ? "en" : "de", { remember: true });
    syncToggle();
  });
  const form = $("#login");
  const message = $("#message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.username.value || !form.password.value) {
      showStatus(message, t("login.missing"), "error");
      (form.username.value ? form.password : form.username).focus();
      return;
    }
    showStatus(message, t("login.working"));
    try {
      const user = await api("/api/auth/login", {
        method: "POST", redirectOn401: false,
        body: { username: form.username.value.trim(), password: form.password.value },
      });
      location.assign(safeNext() || HOME[user.role] || "/");
    } catch (error) {
      // 429 names the seconds to wait, 403 a deactivated account (said only after a correct password).
      const text = error instanceof ApiError && error.status === 401 ? t("login.failed")
        : error instanceof ApiError && (error.status === 429 || error.status === 403) ? errorText(error)
          : t("error.generic");
      showStatus(message, text, "error");
      form.password.select();
    }
  });
  document.body.dataset.ready = "1";
}

main();
