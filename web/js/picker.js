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
  /** input: the search <input>; list: the <ul>; onSelect(language, tier) when chosen.
   *
   * ARIA APG "editable combobox with list autocomplete and automatic selection": the list is a
   * popup (aria-expanded tells whether it shows) that opens on focus, typing or Alt+ArrowDown;
   * aria-selected marks only the highlighted option; leaving the field with text typed chooses
   * the highlighted match, so what is highlighted is what is chosen. The list is no tab stop.
   */
  constructor({ input, list, onSelect }) {
    this.input = input;
    this.list = list;
    this.onSelect = onSelect;
    this.languages = [];
    this.tiers = new Map();
    this.usage = new Map();
    this.active = -1;
    this.selected = null;
    this.typed = false;
    this.shown = [];
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    list.setAttribute("role", "listbox");
    list.tabIndex = -1;
    list.hidden = true;
    input.addEventListener("input", () => { this.typed = true; this.active = 0; this.open(); });
    input.addEventListener("keydown", (e) => this.key(e));
    input.addEventListener("focus", () => this.open());
    input.addEventListener("click", () => this.open());
    input.addEventListener("blur", () => { this.commit(); this.close(); });
    // A click on an option must not blur the field first (that would close the list under it).
    list.addEventListener("mousedown", (e) => e.preventDefault());
  }

  setData({ languages, tiers = [], usage = [] }) {
    this.languages = languages.filter((l) => l.active !== false);
    this.tiers = new Map(tiers.map((tier) => [tier.language_code, tier]));
    this.usage = new Map(usage.map((u, i) => [u, usage.length - i]));
    if (this.selected) this.selected = this.languages.find((l) => l.code === this.selected.code) || null;
    this.render();
  }

  get expanded() { return this.input.getAttribute("aria-expanded") === "true"; }

  open() {
    if (!this.expanded) {
      this.input.setAttribute("aria-expanded", "true");
      this.list.hidden = false;
    }
    this.render();
  }

  close() {
    this.input.setAttribute("aria-expanded", "false");
    this.list.hidden = true;
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Typed text with a highlighted match becomes the choice (automatic selection). */
  commit() {
    if (this.typed && this.expanded && this.active >= 0 && this.shown[this.active]) this.choose(this.active);
  }

  sorted() {
    const q = this.typed ? normalise(this.input.value.trim()) : "";
    const matches = this.languages.filter((l) => !q ||
      [l.code, l.name_de, l.name_en, l.name_native].some((name) => normalise(name).includes(q)));
    const collator = new Intl.Collator(currentLocale());
    return matches.sort((a, b) => (this.usage.get(b.code) || 0) - (this.usage.get(a.code) || 0) ||
      collator.compare(languageName(a), languageName(b)));
  }

  render() {
    this.shown = this.sorted();
    if (this.active >= this.shown.length) this.active = this.shown.length - 1;
    if (!this.typed && this.selected) this.input.value = languageName(this.selected);
    this.list.replaceChildren(...this.shown.map((lang, i) => {
      const tier = this.tiers.get(lang.code);
      const chosen = this.selected?.code === lang.code;
      const li = el("li", {
        id: `lang-opt-${lang.code}`, role: "option", "data-code": lang.code,
        "aria-selected": String(i === this.active), class: chosen ? "chosen" : null,
        onclick: () => { this.choose(i); this.close(); },
      },
      el("span", {}, el("strong", {}, languageName(lang)), " ",
        el("span", { class: "native", lang: nativeTag(lang), dir: lang.rtl ? "rtl" : "ltr" }, lang.name_native),
        chosen ? el("span", { class: "chosen-mark" }, " ", t("picker.chosen")) : null),
      el("span", { class: "meta", "data-tier": tier?.tier || "unknown" }, waitText(tier)));
      if (i === this.active) li.classList.add("active");
      return li;
    }));
    if (this.shown.length === 0) this.list.append(el("li", { role: "option", "aria-disabled": "true", "aria-selected": "false" }, t("picker.no_match")));
    const activeNode = this.expanded && this.shown[this.active] && this.list.querySelector(`#lang-opt-${CSS.escape(this.shown[this.active].code)}`);
    if (activeNode) {
      this.input.setAttribute("aria-activedescendant", activeNode.id);
      activeNode.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  key(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!this.expanded || event.altKey) { this.open(); return; }
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = Math.max(0, Math.min(this.shown.length - 1, this.active + step));
      this.render();
    } else if (event.key === "Enter" && this.expanded && this.active >= 0) {
      event.preventDefault();
      this.choose(this.active);
      this.close();
    } else if (event.key === "Escape" && this.expanded) {
      event.preventDefault();
      this.typed = false;
      this.close();
      this.render();
    }
  }

  choose(index) {
    const lang = this.shown[index];
    if (!lang) return;
    this.selected = lang;
    this.typed = false;
    this.active = -1;
    this.render();
    this.onSelect(lang, this.tiers.get(lang.code));
  }

  select(code) {
    const lang = this.languages.find((l) => l.code === code);
    if (!lang) return;
    this.selected = lang;
    this.typed = false;
    this.render();
    this.onSelect(lang, this.tiers.get(lang.code));
  }

  clear() {
    this.selected = null;
    this.typed = false;
    this.input.value = "";
    this.render();
  }
}

/** A sign language has no spoken text: its label is German (lang="de"), not lang="gsg". */
export function nativeTag(lang) { return lang.sign_language ? "de" : lang.code; }
