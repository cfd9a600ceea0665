"""Every error `code` the server can send has a German and an English text under `error.<code>`.

The codes are read from the source (not from a list kept by hand): `code=` keyword arguments,
`code = "…"` class attributes, `"code": "…"` entries and the HTTP fallback table. The two
f-string families are expanded from the enums they are built from.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from broker.enums import OfferStatus

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" assignments (a code may be passed by name)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _texts(node: ast.AST, names: dict[str, str]) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in names:
        return {names[node.id]}
    if isinstance(node, ast.IfExp):
        return _texts(node.body, names) | _texts(node.orelse, names)
    return set()


def _validator_codes(node: ast.AST, names: dict[str, str]) -> set[str]:
    """`invalid_value("code", …)`: a pydantic validator's refusal, shown as `error.validation.<code>`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "invalid_value" and node.args:
        return _texts(node.args[0], names)
    return set()


def validator_codes() -> set[str]:
    codes: set[str] = set()
    for path in [*(ROOT / "broker").rglob("*.py"), *(ROOT / "signaling").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _constants(tree)
        for node in ast.walk(tree):
            codes |= _validator_codes(node, names)
    return codes


def server_codes() -> set[str]:
    codes: set[str] = set()
    for path in [*(ROOT / "broker").rglob("*.py"), *(ROOT / "signaling").rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "code":
                codes |= _texts(node.value, names)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                codes |= _texts(node.value, names)
            elif isinstance(node, ast.Dict):
                for key, value_node in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code":
                        codes |= _texts(value_node, names)
                if path.name == "errors.py":
                    codes |= {v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    codes |= {f"offer_{s.value}" for s in OfferStatus if s is not OfferStatus.PENDING} | {"offer_expired"}
    # broker/booking/service.py `_slot_error`: interpreter_<availability.Unavailable.reason>
    codes |= {f"interpreter_{reason}" for reason in ("no_window", "holiday", "absent", "not_qualified")}
    return {c for c in codes if c.isidentifier() and c == c.lower()}


def test_the_code_walk_finds_the_codes_it_must() -> None:
    """The walk sees keyword codes, class codes, dict codes and the expanded families."""
    found = server_codes()
    assert {"no_call", "no_interpreter", "not_found", "draining", "offer_expired", "double_booking"} <= found


def test_every_server_error_code_has_a_text_in_german_and_english() -> None:
    """A page shows `error.<code>` in its language; a missing key would show the server's English."""
    for lang in ("de", "en"):
        catalog = json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        missing = sorted(code for code in server_codes() if f"error.{code}" not in catalog)
        assert missing == [], (lang, missing)


def test_every_validator_code_has_a_phrase_in_german_and_english() -> None:
    """A 422 from our own validators reads "<field label>: <phrase>" from `error.validation.<code>`."""
    found = validator_codes()
    assert {"window_order", "date_format", "control_character"} <= found
    for lang in ("de", "en"):
        catalog = json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        missing = sorted(code for code in found if f"error.validation.{code}" not in catalog)
        assert missing == [], (lang, missing)


def test_no_server_message_is_written_in_two_languages() -> None:
    """The server's words are English only; German lives in the catalogs (no "deutsch / english")."""
    german = ("ä", "ö", "ü", "ß", "„", " nicht ", "Bitte ")
    offenders = []
    for path in [*(ROOT / "broker").rglob("*.py"), *(ROOT / "signaling").rglob("*.py")]:
        if "migrations" in path.parts or "demo" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                text = ast.unparse(node.exc)
                if any(word in text for word in german):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
