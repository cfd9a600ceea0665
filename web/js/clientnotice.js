// Short notices for the person at the counter, in *their* language (web/i18n/client/<lang>.json),
// with `lang` and `dir` set on the text itself. The counter page tells the client screen what
// to show over a BroadcastChannel, so a second window on a second monitor follows along.
export const CHANNEL = "vd-client-screen";
export const STATES = ["welcome", "connecting", "waiting", "in_call", "ended", "unavailable"];
const cache = new Map();
let index = null;

export async function clientLanguages() {
  if (!index) index = await (await fetch("/i18n/client/index.json")).json();
  return index;
}

// A sign language has no written form: a deaf client reads the notices in German.
const ALIAS = { gsg: "de" };

/** The catalog code that serves `lang`, or null when there is none (the screen then shows English). */
export async function clientCode(lang) {
  const code = ALIAS[lang] || lang;
  return (await clientLanguages()).some((l) => l.code === code) ? code : null;
}

/** Catalog for `lang`; languages without one fall back to English (so the screen is never blank). */
export async function clientCatalog(lang) {
  const code = (await clientCode(lang)) || "en";
  if (!cache.has(code)) cache.set(code, await (await fetch(`/i18n/client/${code}.json`)).json());
  return { code, messages: cache.get(code) };
}

// The newest render asked for each node: catalogs arrive in any order, and an older render
// whose catalog came last must not put its language back over a newer one.
const newest = new WeakMap();

/** Write the notice for `state` into `node` (and the privacy line into `sub`) in `lang`; the
 * catalog code shown, or null when a newer render for `node` took over meanwhile. */
export async function renderNotice(node, sub, lang, state) {
  const ticket = {};
  newest.set(node, ticket);
  const { code, messages } = await clientCatalog(lang);
  if (newest.get(node) !== ticket) return null;
  for (const target of [node, sub]) {
    if (!target) continue;
    target.lang = code;
    target.dir = messages._dir;
  }
  node.textContent = messages[STATES.includes(state) ? state : "welcome"];
  if (sub) sub.textContent = messages.privacy;
  node.dataset.state = state;
  return code;
}

export function openChannel() {
  return "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
}
