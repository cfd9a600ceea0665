"""Language names from Unicode CLDR (via Babel), with the few codes CLDR does not know."""

from __future__ import annotations

import unicodedata
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


# Scripts whose names are written with a capital first letter. Georgian has capitals in Unicode
# (Mtavruli) but they are not used to begin a word, and Arabic, Ethiopic, Han, … have no case.
_CAPITALISED_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN")


def capitalised(name: str) -> str:
    """Upper-case the first letter only in a script that writes names that way; else leave it."""
    if name and unicodedata.name(name[0], "").startswith(_CAPITALISED_SCRIPTS):
        return name[:1].upper() + name[1:]
    return name


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
        name_native=capitalised(native),
        rtl=locale.character_order == "right-to-left",
    )
