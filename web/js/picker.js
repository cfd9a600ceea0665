// Searchable language picker (combobox + listbox, WAI-ARIA 1.2 pattern): matches German,
// English and native names and the code; most-used first; each entry shows whether
// interpreters are online now and the typical wait.
import { el } from "./dom.js";
import { currentLocale, languageName, t } from "./i18n.js";

function normalise(text) {
  return (text || "").toLocaleLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

export function waitText(tier) {
  if (!tier) return "";
  if (tier.tier === "now") {
    const minutes = tier.typical_wait_seconds ? Math.max(1, Math.round(tier.typical_wait_seconds / 60)) : null;
    return minutes ? t("picker.online_wait", { online: tier.interpreters_online, minutes }) : t("picker.online", { online: tier.interpreters_online });
  }
  if (tier.tier === "soon") return t("picker.busy", { online: tier.interpreters_online });
  if (tier.tier === "booking") return t("picker.booking_only");
  return t("picker.none");
}

export class LanguagePicker {
  /** input: the search <input>; list: the <ul>; onSelect(language) when chosen. */
  constructor({ input, list, onSelect }) {
    this.input = input;
    this.list = list;
    this.onSelect = onSelect;
    this.languages = [];
    this.tiers = new Map();
    this.usage = new Map();
    this.active = -1;
    this.selected = null;
    this.shown = [];
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "true");
    list.setAttribute("role", "listbox");
    input.addEventListener("input", () => { this.active = 0; this.render(); });
    input.addEventListener("keydown", (e) => this.key(e));
  }

  setData({ languages, tiers = [], usage = [] }) {
    this.languages = languages.filter((l) => l.active !== false);
    this.tiers = new Map(tiers.map((tier) => [tier.language_code, tier]));
    this.usage = new Map(usage.map((u, i) => [u, usage.length - i]));
    this.render();
  }

  sorted() {
    const q = normalise(this.input.value.trim());
    const matches = this.languages.filter((l) => !q ||
      [l.code, l.name_de, l.name_en, l.name_native].some((name) => normalise(name).includes(q)));
    const collator = new Intl.Collator(currentLocale());
    return matches.sort((a, b) => (this.usage.get(b.code) || 0) - (this.usage.get(a.code) || 0) ||
      collator.compare(languageName(a), languageName(b)));
  }

  render() {
    this.shown = this.sorted();
    if (this.active >= this.shown.length) this.active = this.shown.length - 1;
    this.list.replaceChildren(...this.shown.map((lang, i) => {
      const tier = this.tiers.get(lang.code);
      const li = el("li", {
        id: `lang-opt-${lang.code}`, role: "option", "data-code": lang.code,
        "aria-selected": String(this.selected?.code === lang.code),
        onclick: () => this.choose(i),
      },
      el("span", {}, el("strong", {}, languageName(lang)), " ",
        el("span", { class: "native", lang: lang.code, dir: lang.rtl ? "rtl" : "ltr" }, lang.name_native)),
      el("span", { class: "meta", "data-tier": tier?.tier || "unknown" }, waitText(tier)));
      if (i === this.active) li.classList.add("active");
      return li;
    }));
    if (this.shown.length === 0) this.list.append(el("li", { role: "option", "aria-disabled": "true" }, t("picker.no_match")));
    const activeNode = this.shown[this.active] && this.list.querySelector(`#lang-opt-${CSS.escape(this.shown[this.active].code)}`);
    if (activeNode) {
      this.input.setAttribute("aria-activedescendant", activeNode.id);
      activeNode.setAttribute("aria-selected", "true");
      activeNode.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  key(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = Math.max(0, Math.min(this.shown.length - 1, this.active + step));
      this.render();
    } else if (event.key === "Enter" && this.active >= 0) {
      event.preventDefault();
      this.choose(this.active);
    }
  }

  choose(index) {
    const lang = this.shown[index];
    if (!lang) return;
    this.selected = lang;
    this.active = index;
    this.render();
    this.onSelect(lang, this.tiers.get(lang.code));
  }

  select(code) {
    const index = this.shown.findIndex((l) => l.code === code);
    if (index >= 0) this.choose(index);
  }
}
