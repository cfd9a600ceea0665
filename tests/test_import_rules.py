"""The core's import rules, read from the source (every `import` statement, also inside
functions and `TYPE_CHECKING` blocks), so a lazy import cannot hide a dependency.

1. `signaling/` imports nothing from `broker/`: the broker uses the signalling, never the
   other way round.
2. An area under `broker/` other than `broker.request` uses `broker.request` only through its
   public surface:
   - `broker.request.service`: the keyword-only service functions (create, cancel, end a call,
     withdraw an interpreter's offers, …);
   - `broker.request.schemas`: the pydantic bodies;
   - `broker.request.lifecycle`: statuses, transitions and the named status sets;
   - `broker.request.models`: the tables, which other areas read and join in their queries;
   - `broker.request.scheduled`: the area's background work, started from the runtime like
     every area's `scheduled.py`.
   Dispatch, offers, replay, estimate, idempotency and the routes are internal. Modules at the
   top of `broker/` (app, api, cli, models, deps, …) compose the areas and are not bound by rule 2.
3. `broker.live` (effects, the unit of work, the runtime) sits below the areas: it imports no
   area, except inside `if TYPE_CHECKING:` where the runtime names the areas' parts it holds.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import broker
import signaling

REQUEST = "broker.request"
REQUEST_PUBLIC = frozenset({f"{REQUEST}.{name}" for name in ("service", "schemas", "lifecycle", "models",
                                                              "scheduled")})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or `package.name` for `from package import name`)
    line: int
    types_only: bool = False  # inside `if TYPE_CHECKING:`


def _modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [package.__name__] + [info.name for info in pkgutil.walk_packages(path, prefix)]  # type: ignore[attr-defined]


def _imports(module: str) -> list[Import]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    source = Path(spec.origin).read_text(encoding="utf-8")
    is_package = spec.submodule_search_locations is not None
    tree = ast.parse(source, filename=spec.origin)
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node.test)
                   for statement in node.body for inner in ast.walk(statement)}
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno, id(node) in typing_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from broker.request import dispatch` names a submodule: record it as such.
            found += [Import(module, f"{base}.{alias.name}", node.lineno, id(node) in typing_only)
                      for alias in node.names]
            found.append(Import(module, base, node.lineno, id(node) in typing_only))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _request_internal(target: str) -> bool:
    if not _within(target, REQUEST) or target == REQUEST:
        return False
    return not any(_within(target, public) for public in REQUEST_PUBLIC)


AREAS = frozenset(f"broker.{info.name}" for info in pkgutil.iter_modules(broker.__path__) if info.ispkg)


def _area(module: str) -> str | None:
    """`broker.booking.service` → `broker.booking`; top-level broker modules have no area."""
    area = ".".join(module.split(".")[:2])
    return area if area in AREAS else None


def test_every_module_of_broker_and_signaling_imports() -> None:
    """Every module imports cleanly, so the rules below read modules that really exist."""
    for module in [*_modules(broker), *_modules(signaling)]:
        importlib.import_module(module)


def test_signaling_imports_nothing_from_broker() -> None:
    """The signalling package stands alone: no module of it imports `broker` in any form."""
    offending = [i for m in _modules(signaling) for i in _imports(m) if _within(i.target, "broker")]
    assert offending == []


def test_areas_use_only_the_public_surface_of_broker_request() -> None:
    """No area except `broker.request` itself imports dispatch, offers, replay or another internal."""
    offending = [i for m in _modules(broker) if (area := _area(m)) is not None and area != REQUEST
                 for i in _imports(m) if _request_internal(i.target)]
    assert offending == []


def test_live_imports_no_area_but_for_types() -> None:
    """`broker.live` is the floor the areas stand on: at run time it imports none of them."""
    offending = [i for m in _modules(broker) if _within(m, "broker.live") for i in _imports(m)
                 if (area := _area(i.target)) is not None and area != "broker.live" and not i.types_only]
    assert offending == []


def test_the_rules_see_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    """The reader catches a lazy `from broker.request import dispatch` and a relative import;
    without this the two tests above could pass by not looking."""
    import sys

    package = tmp_path / "probe_pkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "mod.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import broker.booking\n"
        "def later():\n    from broker.request import dispatch\n    from ..other import thing\n")
    sys.path.insert(0, str(tmp_path))
    try:
        found = _imports("probe_pkg.inner.mod")
        targets = {i.target for i in found}
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if _within(n, "probe_pkg")]:
            del sys.modules[name]
    assert "broker.request.dispatch" in targets and _request_internal("broker.request.dispatch")
    assert "probe_pkg.other.thing" in targets
    assert not _request_internal("broker.request.service")
    assert [i.types_only for i in found if i.target == "broker.booking"] == [True]
    assert not any(i.types_only for i in found if i.target == "broker.request.dispatch")
