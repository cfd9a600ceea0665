// The manager frame: sign-in check, header and navigation, then the reports dashboard module.
// The dashboard lives in /manager/dashboard.js (reports area) and exports
// `mount(root, { me, t, locale, onLocaleChange })`; until it exists the frame says so.
import { $, showStatus } from "./dom.js";
import { currentLocale, onLocaleChange, t } from "./i18n.js";
import { startPage } from "./shell.js";

async function main() {
  const me = await startPage({ roles: ["manager", "admin"], titleKey: "manager.heading" });
  try {
    const dashboard = await import("/manager/dashboard.js");
    await dashboard.mount($("#dashboard"), { me, t, locale: currentLocale, onLocaleChange });
  } catch (error) {
    console.info("manager: no dashboard module yet", error);
    showStatus($("#manager-status"), t("manager.pending"));
  }
  document.body.dataset.loaded = "1";
}

main();
