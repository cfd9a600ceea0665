// The client screen: a calm full-screen notice in the client's language. Staff chrome (the
// language chooser) stays in the UI language; the notice carries its own lang and dir.
import { $, el } from "./dom.js";
import { preferredLocale, setLocale, t } from "./i18n.js";
import { clientLanguages, openChannel, renderNotice } from "./clientnotice.js";

const params = new URLSearchParams(location.search);
let lang = params.get("lang") || sessionStorage.getItem("vd.client.lang") || "en";
let state = params.get("state") || "welcome";

async function draw() {
  const shown = await renderNotice($("#notice"), $("#notice-sub"), lang, state);
  if (shown === null) return; // a newer draw took over
  lang = shown; // the catalog's own code (a fallback such as German for sign language)
  $("#client-lang").value = lang;
  document.body.dataset.lang = lang;
}

async function main() {
  await setLocale(preferredLocale());
  document.title = `${t("client.heading")} – ${t("app.name")}`;
  const select = $("#client-lang");
  for (const l of await clientLanguages()) select.append(el("option", { value: l.code, lang: l.code, dir: l.dir }, l.name));
  select.addEventListener("change", () => {
    lang = select.value;
    sessionStorage.setItem("vd.client.lang", lang);
    channel?.postMessage({ kind: "lang", lang });
    draw();
  });
  // The way back for the caseworker: opened from the counter, bring that window forward and
  // close this one (the counter was never left); opened on its own, go to the counter.
  $("#client-back").addEventListener("click", (event) => {
    if (!window.opener || window.opener.closed) return;
    event.preventDefault();
    window.opener.focus();
    window.close();
  });
  const channel = openChannel();
  channel?.addEventListener("message", ({ data }) => {
    if (data.lang) lang = data.lang;
    if (data.state) state = data.state;
    draw();
  });
  channel?.postMessage({ kind: "hello" }); // the counter answers with the current state
  await draw();
  document.body.dataset.ready = "1";
}

main();
