"""Native language names from CLDR keep the case their script uses."""

from __future__ import annotations

from broker.language.cldr import lookup


def test_georgian_and_other_caseless_scripts_keep_their_letters_while_latin_and_cyrillic_are_capitalised() -> None:
    """Georgian stays "ქართული" (never the Mtavruli capital "Ქ"); French and Russian start upper-case."""
    names = {code: lookup(code) for code in ("ka", "fr", "ru", "am", "zh", "ar")}
    assert names["ka"] is not None and names["ka"].name_native == "ქართული"
    assert names["fr"] is not None and names["fr"].name_native == "Français"
    assert names["ru"] is not None and names["ru"].name_native == "Русский"
    for code in ("am", "zh", "ar"):
        found = names[code]
        assert found is not None
        assert found.name_native[0] == found.name_native[0].lower(), code  # caseless: lower() is a no-op
