"""Open data that cannot be undone: whole completed months, small cells hidden with secondary suppression.

Primary suppression hides a count of 1..k-1. That alone can be undone by arithmetic: a hidden
cell is the published total of its language (or district, office kind, month, period) minus
the visible cells beside it. So for every published count column separately, and for each
month on its own, the cells form a table — rows are (district, office kind), columns languages —
whose margins other tables publish (usage reports by month and language, district, office kind,
their period sums). A hidden cell is safe when it lies on a *cycle* of hidden cells: adding
+1, -1, +1, … around the cycle keeps every row and column total, so the published sums admit
at least two values for it. `protect` finds, for each primary cell, the cheapest such cycle
(a shortest path between its row and its column through cells hidden already or, at the cost of
their value, visible non-zero ones: Dijkstra on the bipartite row/column graph) and hides it,
checking that a ±1 step around the cycle stays within what a reader knows (hidden counts are at
least 1; sessions plus unmet never exceed requests).

Deciding month by month makes a month read the same in every file, and whole completed months
only means no file can be differenced against one shifted by a day. Hidden cells read `.` (the
Destatis sign for "secret"), primary and secondary alike, so the marker itself says nothing.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Invalid
from broker.report import service
from broker.report.schemas import Grouping, ReportFilters

HIDDEN = "."
COUNTS = ("requests", "sessions", "unmet")
# Figures computed from counts are hidden with any count they are computed from.
DERIVED = {
    "talk_minutes": ("sessions",),
    "unmet_share": ("unmet", "requests"),
    "wait_median_s": ("sessions",),
    "wait_p90_s": ("sessions",),
}
GROUPING = (Grouping.MONTH, Grouping.DISTRICT, Grouping.OFFICE_KIND, Grouping.LANGUAGE)
COLUMNS = (
    "month",
    "district_ags",
    "district_name",
    "office_kind",
    "language_code",
    "language_name",
    "requests",
    "sessions",
    "talk_minutes",
    "unmet",
    "unmet_share",
    "wait_median_s",
    "wait_p90_s",
)
DEFAULT_MONTHS = 12


class OpenDataPeriodError(Invalid):
    code = "open_data_whole_months"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, loc=["query", field_name], field=field_name)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def published_period(filters: ReportFilters, today: date) -> ReportFilters:
    """Whole completed months only (default: the last twelve); any other filter is refused.

    A period that starts or ends inside a month could be differenced against the whole month;
    the running month changes every day. Open data covers the whole state: an office or
    language filter would publish a finer table than the protected one.
    """
    for name in ("office_id", "office_kind", "district", "language", "purpose", "mode", "media"):
        if getattr(filters, name):
            raise OpenDataPeriodError(
                name, f"open data has no {name} filter"
            )
    last_complete = month_start(today) - timedelta(days=1)
    date_to = filters.date_to or last_complete
    date_from = filters.date_from or month_start(
        date(date_to.year - (1 if date_to.month < DEFAULT_MONTHS else 0), (date_to.month % DEFAULT_MONTHS) + 1, 1)
    )
    if date_from != month_start(date_from):
        raise OpenDataPeriodError("from", "'from' must be the first day of a month")
    if date_to != month_end(date_to):
        raise OpenDataPeriodError("to", "'to' must be the last day of a month")
    if date_to > last_complete:
        raise OpenDataPeriodError(
            "to", f"completed months only, the last is {last_complete:%Y-%m}"
        )
    if date_from > date_to:
        raise OpenDataPeriodError("from", "'from' is after 'to'")
    return filters.model_copy(update={"date_from": date_from, "date_to": date_to})


# --- secondary suppression ---------------------------------------------------------------------

Row = tuple[str, str]  # (district, office kind)
TOTAL = "*"  # the margin's node: a row's total is the cell (row, TOTAL), a language's (TOTAL, language)
MARGIN_PRICE = 10_000.0  # a cycle through a hidden margin is the last resort (see `_find_cycle`)


@dataclass
class Cell:
    row: Row | str
    language: str
    values: dict[str, int]
    hidden: set[str] = field(default_factory=set)
    margin: bool = field(init=False)

    def __post_init__(self) -> None:
        self.margin = self.row == TOTAL or self.language == TOTAL


# Which columns may move together around a cycle: alone first; else with a partner, so that
# sessions + unmet <= requests still holds in cells where it is tight (the common case).
PARTNERS = {"requests": ((), ("sessions",), ("unmet",)), "sessions": ((), ("requests",)), "unmet": ((), ("requests",))}


def _bounds_ok(cell: Cell, moves: tuple[str, ...], step: int, k: int) -> bool:
    """Whether a reader who sees the tables could not rule out the `moves` columns moved by `step` here."""
    if cell.margin:  # only small margins are hidden (by every report): the reader knows 1..k-1
        return all(name in cell.hidden and 1 <= cell.values[name] + step <= k - 1 for name in moves)
    values = dict(cell.values)
    for name in moves:
        values[name] += step
        if values[name] < 0:  # "." may stand for 0: the table lists every row × language of the month
            return False
    return values["sessions"] + values["unmet"] <= values["requests"]


def _cycle_is_feasible(cycle: list[Cell], moves: tuple[str, ...], k: int) -> bool:
    """A step of ±1 alternating around the cycle (margins move against their row) stays plausible."""
    for direction in (1, -1):
        steps = [direction * (1 if i % 2 == 0 else -1) * (-1 if cell.margin else 1) for i, cell in enumerate(cycle)]
        if all(_bounds_ok(cell, moves, step, k) for cell, step in zip(cycle, steps, strict=True)):
            return True
    return False


Graph = dict[Any, list[tuple[Any, "Cell"]]]


def _graph(cells: list[Cell], column: str) -> Graph:
    """The bipartite row/language graph of one column's cells (margins: edges to TOTAL, if non-zero)."""
    edges: Graph = defaultdict(list)
    for cell in cells:
        if cell.values[column] > 0 or not cell.margin:
            row_node, col_node = ("r", cell.row), ("c", cell.language)
            edges[row_node].append((col_node, cell))
            edges[col_node].append((row_node, cell))
    return edges


def _price(cell: Cell, column: str) -> float:
    """What hiding this cell costs: nothing if hidden already, a little for a 0, else its value."""
    if column in cell.hidden:
        return 0.0
    value = cell.values[column]
    return 0.5 if value == 0 else float(value)


def _rectangle(rows: dict[Any, list[Cell]], languages: dict[str, list[Cell]], grid: dict[tuple[Any, str], Cell],
               start: Cell, moves: tuple[str, ...], k: int) -> list[Cell] | None:
    """The cheapest feasible 4-cycle through `start`: for each direction of the ±1 step, the
    cheapest cells of its language and its row that can step the other way, and their corner."""
    best: tuple[float, list[Cell]] | None = None
    for direction in (1, -1):
        if not _bounds_ok(start, moves, direction, k):
            continue

        def movable(cells: list[Cell], step: int) -> list[Cell]:
            pool = (c for c in cells if c is not start and _bounds_ok(c, moves, step, k))
            return sorted(pool, key=lambda c: sum(_price(c, name) for name in moves))[:8]

        for down in movable(languages[start.language], -direction):
            for across in movable(rows[start.row], -direction):
                corner = grid.get((down.row, across.language))
                if corner is None or not _bounds_ok(corner, moves, direction, k):
                    continue
                cost = sum(_price(c, name) for c in (down, across, corner) for name in moves)
                if best is None or cost < best[0]:
                    best = (cost, [start, down, corner, across])
    return best[1] if best else None


def _find_cycle(edges: Graph, start: Cell, column: str, banned: set[int]) -> list[Cell] | None:
    """Cheapest path from `start`'s language back to its row through other non-zero cells.

    Together with `start` the path is an even cycle in the bipartite row/language graph. Cells
    hidden already cost nothing, visible ones their value (hiding small numbers loses least),
    cells of 1 extra (they cannot step down); small margins, hidden by every report anyway, are
    usable but dear: other sums (a language's year) include them. Visible margins are not edges.
    """
    source, target = ("c", start.language), ("r", start.row)
    best: dict[Any, float] = {source: 0.0}
    back: dict[Any, tuple[Any, Cell]] = {}
    queue: list[tuple[float, int, Any]] = [(0.0, 0, source)]
    tie = 0
    while queue:
        cost, _, node = heapq.heappop(queue)
        if node == target:
            break
        if cost > best.get(node, float("inf")):
            continue
        for neighbour, cell in edges[node]:
            if cell is start or id(cell) in banned:
                continue
            if cell.margin:
                if column not in cell.hidden:
                    continue
                price = MARGIN_PRICE
            else:
                price = _price(cell, column)
            if cost + price < best.get(neighbour, float("inf")):
                best[neighbour] = cost + price
                back[neighbour] = (node, cell)
                tie += 1
                heapq.heappush(queue, (cost + price, tie, neighbour))
    if target not in back:
        return None
    path: list[Cell] = []
    node = target
    while node != source:
        node, cell = back[node]
        path.append(cell)
    return [start, *reversed(path)]


def complete_grid(cells: list[Cell]) -> list[Cell]:
    """The month's cells plus a 0 for every row × language of the month without requests.

    Zeros are published (or hidden) like any count, so "." may stand for 0 and a reader cannot
    take every hidden count as at least 1 (that knowledge alone pins rows of ones).
    """
    present = {(c.row, c.language) for c in cells}
    rows = sorted({c.row for c in cells}, key=str)
    languages = sorted({c.language for c in cells})
    zeros = [Cell(row=r, language=lang, values=dict.fromkeys(COUNTS, 0))
             for r in rows for lang in languages if (r, lang) not in present]
    return cells + zeros


def margins(cells: list[Cell]) -> list[Cell]:
    """Row totals, language totals and the grand total of one month's table, as cells."""
    sums: dict[tuple[Row | str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for cell in cells:
        for key in ((cell.row, TOTAL), (TOTAL, cell.language), (TOTAL, TOTAL)):
            for column in COUNTS:
                sums[key][column] += cell.values[column]
    return [Cell(row=row, language=language, values=values) for (row, language), values in sums.items()]


def protect(cells: list[Cell], k: int) -> None:
    """Mark in each cell's `hidden` the counts to withhold: primary (1..k-1) and enough secondary ones.

    Margins take part as the other reports publish them: visible when 0 or at least k (never
    hidden for protection: those reports would show them), else hidden.
    """
    if k <= 1:
        return
    totals = margins(cells)
    table = cells + [m for m in totals if m.row != TOTAL or m.language != TOTAL]
    for column in COUNTS:
        for margin in totals:
            if 0 < margin.values[column] < k:
                margin.hidden.add(column)
        edges = _graph(table, column)
        rows: dict[Any, list[Cell]] = defaultdict(list)
        languages: dict[str, list[Cell]] = defaultdict(list)
        for c in cells:
            rows[c.row].append(c)
            languages[c.language].append(c)
        grid = {(c.row, c.language): c for c in cells}
        primary = [c for c in cells if 0 < c.values[column] < k]
        for cell in primary:
            cell.hidden.add(column)
        for cell in sorted(primary, key=lambda c: (c.values[column], str(c.row), c.language)):
            cycle, moves = None, (column,)
            for partners in PARTNERS[column]:
                moves = (column, *partners)
                cycle = _rectangle(rows, languages, grid, cell, moves, k)
                if cycle:
                    break
            banned: set[int] = set()
            for _ in range(0 if cycle else 3):  # a cycle that bounds rule out is retried without its dearest cell
                moves = (column,)
                cycle = _find_cycle(edges, cell, column, banned)
                if cycle is None or _cycle_is_feasible(cycle, moves, k):
                    break
                banned.add(id(max(cycle[1:], key=lambda c: (column not in c.hidden, c.values[column]))))
                cycle = None
            if cycle is None:
                # Nothing balances it this month: withhold the column's whole month.
                for other in cells:
                    if other.values[column]:
                        other.hidden.add(column)
                continue
            for member in cycle:
                member.hidden.update(moves)


# --- the table ---------------------------------------------------------------------------------


async def open_data_rows(*, db: AsyncSession, filters: ReportFilters, min_count: int) -> list[dict[str, Any]]:
    """The published rows for a checked period (see `published_period`), suppression applied.

    Per month every (district, office kind) × language of that month is a row, zeros included.
    """
    report = await service.usage_report(db=db, filters=filters, group_by=list(GROUPING))
    by_month: dict[str, list[Cell]] = defaultdict(list)
    flats: dict[int, dict[str, Any]] = {}
    district_names: dict[str, str] = {}
    language_names: dict[str, str] = {}
    for row in report.rows:
        district, language = str(row.key["district"]), str(row.key["language"])
        district_names[district], language_names[language] = row.label["district"], row.label["language"]
        cell = Cell(row=(district, str(row.key["office_kind"])), language=language,
                    values={name: int(getattr(row, name)) for name in COUNTS})
        by_month[str(row.key["month"])].append(cell)
        flats[id(cell)] = {
            "talk_minutes": row.talk_minutes,
            "unmet_share": row.unmet_share,
            "wait_median_s": row.wait_median_s,
            "wait_p90_s": row.wait_p90_s,
        }
    out: list[dict[str, Any]] = []
    for month in sorted(by_month):
        table = complete_grid(by_month[month])
        protect(table, max(min_count, 1))
        for cell in sorted(table, key=lambda c: (c.row, c.language)):
            assert isinstance(cell.row, tuple)
            district, kind = cell.row
            flat: dict[str, Any] = {
                "month": month,
                "district_ags": district,
                "district_name": district_names[district],
                "office_kind": kind,
                "language_code": cell.language,
                "language_name": language_names[cell.language],
                **cell.values,
                **flats.get(id(cell), {"talk_minutes": 0.0}),
            }
            for column in cell.hidden:
                flat[column] = HIDDEN
            for column, bases in DERIVED.items():
                if any(b in cell.hidden for b in bases):
                    flat[column] = HIDDEN
            out.append(flat)
    return out
