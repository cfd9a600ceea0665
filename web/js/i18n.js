// Message catalogs: every user-facing text comes from web/i18n/<locale>.json (flat dotted keys).
// HTML marks text with data-i18n="key" and attributes with data-i18n-attr="attr:key;attr:key".
const SUPPORTED = ["de", "en"];
const STORE = "vd.locale";
let locale = "de";
let messages = {};
const listeners = new Set();

export function currentLocale() { return locale; }

export function preferredLocale(userLocale) {
  const stored = localStorage.getItem(STORE);
  if (SUPPORTED.includes(stored)) return stored;
  if (SUPPORTED.includes(userLocale)) return userLocale;
  return "de";
}

async function fetchCatalog(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`catalog ${path}: ${response.status}`);
  return response.json();
}

export async function setLocale(next, { remember = false } = {}) {
  locale = SUPPORTED.includes(next) ? next : "de";
  messages = await fetchCatalog(`/i18n/${locale}.json`);
  if (remember) localStorage.setItem(STORE, locale);
  document.documentElement.lang = locale;
  document.documentElement.dir = "ltr";
  apply(document);
  listeners.forEach((fn) => fn(locale));
  return locale;
}

export function onLocaleChange(fn) { listeners.add(fn); }

/** Whether the catalog has `key` (for texts chosen by a server code that may be new). */
export function hasKey(key) { return messages[key] !== undefined; }

/** The text for `key` with {name} placeholders filled; a missing key shows itself, loudly. */
export function t(key, params = {}) {
  const text = messages[key];
  if (text === undefined) {
    console.warn(`i18n: missing key ${key} (${locale})`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function apply(root) {
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll("[data-i18n-attr]").forEach((el) => {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  });
}

/** Number and date formatting in the UI locale. */
export function fmtDateTime(value, options = { dateStyle: "medium", timeStyle: "short" }) {
  return new Intl.DateTimeFormat(locale === "de" ? "de-DE" : "en-GB", { timeZone: "Europe/Berlin", ...options })
    .format(new Date(value));
}

export function fmtNumber(value) { return new Intl.NumberFormat(locale === "de" ? "de-DE" : "en-GB").format(value); }

/** A display name for a language record from /api/languages in the UI locale. */
export function languageName(lang) { return locale === "de" ? lang.name_de : lang.name_en; }
