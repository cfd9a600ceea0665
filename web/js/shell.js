// The page frame every signed-in page shares: skip link, header, role navigation, language
// switch, sign-out. `startPage` checks the role, loads the catalog and renders the header.
import { api } from "./api.js";
import { el } from "./dom.js";
import { apply, currentLocale, onLocaleChange, preferredLocale, setLocale, t } from "./i18n.js";

const NAV = [
  { href: "/counter.html", key: "nav.counter", roles: ["caseworker", "admin"] },
  // Its own window (the same one the counter's button uses), so the counter stays where it is.
  { href: "/client.html", key: "nav.client", roles: ["caseworker", "admin"], target: "vd-client" },
  { href: "/interpreter.html", key: "nav.interpreter", roles: ["interpreter"] },
  { href: "/manager/", key: "nav.manager", roles: ["manager", "admin"] },
  { href: "/admin.html", key: "nav.admin", roles: ["admin"] },
  { href: "/outbox.html", key: "nav.outbox", roles: ["admin"] },
  { href: "/preferences.html", key: "nav.preferences", roles: ["caseworker", "interpreter", "manager", "admin"] },
];

export const HOME = {
  caseworker: "/counter.html",
  interpreter: "/interpreter.html",
  manager: "/manager/",
  admin: "/admin.html",
};

function isCurrent(href) {
  const here = location.pathname;
  return here === href || (href.endsWith("/") && (here === href || here === `${href}index.html`));
}

function renderHeader(me) {
  const header = document.querySelector("header.top");
  header.replaceChildren(
    el("a", { class: "brand", href: HOME[me.role] || "/", "data-i18n": "app.name" }),
    el("nav", { "data-i18n-attr": "aria-label:nav.label" },
      el("ul", {}, NAV.filter((n) => n.roles.includes(me.role)).map((n) =>
        el("li", {}, el("a", { href: n.href, target: n.target, "data-i18n": n.key, "aria-current": isCurrent(n.href) ? "page" : null }))))),
    el("div", { class: "who" },
      el("span", {}, me.display_name),
      el("button", {
        type: "button", id: "locale-switch", lang: currentLocale() === "de" ? "en" : "de",
        "data-i18n": "locale.switch",
        onclick: async (event) => {
          const next = currentLocale() === "de" ? "en" : "de";
          await setLocale(next, { remember: true });
          event.target.lang = next === "de" ? "en" : "de";
          // Tell the server too, so e-mails and the next device use the same language.
          api("/api/users/me", { method: "PATCH", body: { locale: next }, redirectOn401: false }).catch(() => {});
        },
      }),
      el("button", {
        type: "button", id: "logout", "data-i18n": "nav.logout",
        onclick: async () => {
          await api("/api/auth/logout", { method: "POST", redirectOn401: false }).catch(() => {});
          sessionStorage.clear();
          location.assign("/login.html");
        },
      })),
  );
  apply(header);
}

/**
 * Start a signed-in page: the user must have one of `roles`, else they go to their home page.
 * Resolves with the user from /api/auth/me once the catalog is loaded and the header is drawn.
 */
export async function startPage({ roles, titleKey }) {
  const me = await api("/api/auth/me");
  if (roles && !roles.includes(me.role)) {
    location.replace(HOME[me.role] || "/login.html");
    throw new Error("wrong role");
  }
  await setLocale(preferredLocale(me.locale));
  renderHeader(me);
  const setTitle = () => { if (titleKey) document.title = `${t(titleKey)} – ${t("app.name")}`; };
  setTitle();
  onLocaleChange(setTitle);
  document.body.dataset.ready = "1";
  return me;
}
