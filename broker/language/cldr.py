"""Language names from Unicode CLDR (via Babel), with the few codes CLDR does not know."""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError


@dataclass(frozen=True)
class LanguageNames:
    name_de: str
    name_en: str
    name_native: str
    rtl: bool
    sign_language: bool = False


# ISO 639-3 codes outside CLDR that the programme needs.
_EXTRA: dict[str, LanguageNames] = {
    "prs": LanguageNames("Dari", "Dari", "دری", rtl=True),
    "gsg": LanguageNames(
        "Deutsche Gebärdensprache (DGS)", "German Sign Language (DGS)",
        "Deutsche Gebärdensprache", rtl=False, sign_language=True,
    ),
    "kmr": LanguageNames("Kurdisch (Kurmandschi)", "Kurdish (Kurmanji)", "Kurmancî", rtl=False),
}


def lookup(code: str) -> LanguageNames | None:
    """German, English and native name of a BCP 47 / ISO 639-3 code, or None if unknown."""
    if code in _EXTRA:
        return _EXTRA[code]
    try:
        locale = Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    native = locale.get_display_name(locale) or code
    return LanguageNames(
        name_de=locale.get_display_name("de") or code,
        name_en=locale.get_display_name("en") or code,
        name_native=native[:1].upper() + native[1:] if locale.language not in ("fa", "ar") else native,
        rtl=locale.character_order == "right-to-left",
    )
