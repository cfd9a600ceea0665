"""Message catalogs: every key the pages use exists in German and English; client notices are complete."""

from __future__ import annotations

import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
CLIENT_KEYS = {"_dir", "_name", "welcome", "connecting", "waiting", "in_call", "ended", "unavailable", "privacy"}
ROOT = Path(__file__).resolve().parents[2]
# Every language the demo offers has client notices (German Sign Language uses the German ones).
_DEMO = (ROOT / "broker/demo/data/languages.csv").read_text("utf-8").splitlines()[1:]
REQUIRED_CLIENT = ({row.split(",")[0] for row in _DEMO if row} - {"gsg"}) | {"de"}
RTL = {"ar", "prs", "ps", "fa", "ckb", "ur"}


def catalog(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / name).read_text(encoding="utf-8"))
    return data


def used_keys() -> set[str]:
    keys: set[str] = set()
    for page in WEB.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        keys |= set(re.findall(r'data-i18n="([\w.]+)"', text))
        for attr in re.findall(r'data-i18n-attr="([^"]+)"', text):
            keys |= {pair.split(":")[1] for pair in attr.split(";")}
    for module in [*(WEB / "js").glob("*.js"), *(WEB / "manager").glob("*.js")]:
        text = module.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\("([\w.]+)"', text))
        keys |= set(re.findall(r'"data-i18n(?:-attr)?": "(?:[\w-]+:)?([\w.]+)"', text))
    return keys


def test_german_and_english_catalogs_have_the_same_keys_and_no_empty_text() -> None:
    """Switching language never shows a raw key: both catalogs hold exactly the same keys."""
    de, en = catalog("de.json"), catalog("en.json")
    assert set(de) == set(en)
    assert [k for k, v in {**de, **en}.items() if not v.strip() and not k.startswith("socket.idle")] == []


def test_every_key_used_by_a_page_or_module_is_in_the_catalog() -> None:
    """No user-facing text is missing from the catalogs (dynamic keys are checked by the browser tests)."""
    assert used_keys() - set(catalog("de.json")) == set()


def test_client_notices_exist_for_every_required_language_with_the_right_direction() -> None:
    """Each client catalog has every notice; Arabic-script languages are right to left."""
    index = {entry["code"]: entry for entry in json.loads((WEB / "i18n/client/index.json").read_text("utf-8"))}
    assert REQUIRED_CLIENT <= set(index)
    for code in index:
        messages = catalog(f"client/{code}.json")
        assert set(messages) == CLIENT_KEYS, code
        assert messages["_dir"] == ("rtl" if code in RTL else "ltr"), code
        assert index[code]["dir"] == messages["_dir"]


def test_pages_carry_no_hard_coded_text_outside_the_catalogs() -> None:
    """Text nodes in the HTML are empty: every visible word comes from a catalog."""
    pattern = re.compile(r">([^<>]*[A-Za-zÄÖÜäöüß][^<>]*)<")
    allowed = {"Videodolmetschen"}  # the <title> placeholder until the catalog loads
    for page in WEB.rglob("*.html"):
        texts = {m.strip() for m in pattern.findall(page.read_text(encoding="utf-8"))} - allowed
        assert texts == set(), (page.name, texts)


def test_keys_built_from_server_values_exist_for_every_value() -> None:
    """`t(`istatus.${status}`)` and the like: every value the server can send has its text in both catalogs."""
    from broker.enums import (
        Gender,
        InterpreterStatus,
        Media,
        OfficeKind,
        OutboxStatus,
        Qualification,
        RequestMode,
        Role,
    )

    families = {
        "istatus": [s.value for s in InterpreterStatus],
        "office_kind": [k.value for k in OfficeKind],
        "media": [m.value for m in Media],
        "mode": [m.value for m in RequestMode],
        "gender": [g.value for g in Gender],
        "qualification": [q.value for q in Qualification],
        "role": [r.value for r in Role],
        "bstatus": ["requested", "assigned", "open", "connected"],  # the upcoming ones schedule.js lists
        "outbox.status": [s.value for s in OutboxStatus],
        "seat": ["counter", "interpreter", "guest"],
        "call.quality_": ["none", "good", "fair", "poor"],
        "call.peer_left_": ["counter", "interpreter", "guest"],
        "offer.revoked_": ["taken", "other"],
        "weekday": [str(d) for d in range(7)],  # the planning gaps' weekday (dashboard.js gapText)
        "staffing.day_short": [str(d) for d in range(7)],
    }
    for lang in ("de", "en"):
        messages = catalog(f"{lang}.json")
        missing = []
        for prefix, values in families.items():
            glue = "" if prefix.endswith("_") else "."
            missing += [f"{prefix}{glue}{v}" for v in values if f"{prefix}{glue}{v}" not in messages]
        assert missing == [], (lang, missing)
