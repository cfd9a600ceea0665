// A third participant joins by a one-time link (#room=…&token=…): no account, no cookie; the
// socket is anonymous and the join token alone admits to the guest seat of this one call.
import { $, showStatus } from "./dom.js";
import { currentLocale, preferredLocale, setLocale, t } from "./i18n.js";
import { Signal } from "./socket.js";
import { CallSession } from "./callsession.js";

const link = new URLSearchParams(location.hash.slice(1));
const signal = new Signal();
const session = new CallSession({ signal, root: $("#call-area") });
window.__vd = { signal };

async function join() {
  const media = $("#guest-audio").checked ? "audio" : "video";
  $("#guest-start").hidden = true;
  const ended = async () => {
    await session.stop();
    showStatus($("#guest-status"), t("guest.ended"));
  };
  session.addEventListener("hangup", ended);
  session.addEventListener("ended", ended);
  signal.addEventListener("error", ({ detail }) => {
    if (detail.ref === "join") showStatus($("#guest-status"), t("guest.invalid"), "error");
  });
  signal.connect();
  // The guest link carries no request id: the counter and the interpreter report the call.
  await session.start({ room_id: link.get("room"), token: link.get("token") }, media);
}

async function main() {
  await setLocale(preferredLocale(navigator.language.slice(0, 2)));
  document.title = `${t("guest.title")} – ${t("app.name")}`;
  // The button names the other language in that language ("English" / "Deutsch"): tag it so.
  const other = () => (currentLocale() === "de" ? "en" : "de");
  $("#locale-switch").lang = other();
  $("#locale-switch").addEventListener("click", async () => {
    await setLocale(other(), { remember: true });
    $("#locale-switch").lang = other();
  });
  if (!link.get("room") || !link.get("token")) {
    $("#guest-start").hidden = true;
    showStatus($("#guest-status"), t("guest.invalid"), "error");
  }
  $("#guest-join").addEventListener("click", join);
  document.body.dataset.ready = "1";
}

main();
