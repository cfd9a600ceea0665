"""The streaming XLSX writer's files open in openpyxl with every value and type as written."""

from __future__ import annotations

from datetime import UTC, datetime

from openpyxl import load_workbook

from broker.enums import RequestMode
from broker.report.xlsx import XlsxWriter


def test_values_types_header_and_title_read_back() -> None:
    """Numbers, booleans, blanks, UTC instants (as wall time), enums and awkward text survive a round trip."""
    writer = XlsxWriter(["n", "x", "flag", "at", "mode", "text"], title='Ledger "2025" & more — a very long title')
    rows = [
        {"n": 1, "x": 2.5, "flag": True, "at": datetime(2025, 3, 30, 1, 30, 15, tzinfo=UTC),
         "mode": RequestMode.BOOKED, "text": "a < b & c > \"d\" 'e'"},
        {"n": -7, "x": None, "flag": False, "at": None, "mode": RequestMode.ON_DEMAND, "text": "  Ärger\x07 ✓ "},
    ]
    for row in rows:
        writer.append(row)
    book = load_workbook(writer.finish())
    sheet = book.worksheets[0]
    assert sheet.title == 'Ledger "2025" & more — a very l'
    assert sheet.freeze_panes == "A2"
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("n", "x", "flag", "at", "mode", "text")
    assert sheet["A1"].font.b is True
    assert values[1] == (1, 2.5, True, datetime(2025, 3, 30, 1, 30, 15), "booked", "a < b & c > \"d\" 'e'")
    assert values[2] == (-7, None, False, None, "on_demand", "  Ärger ✓ ")
    assert sheet["D2"].number_format == "yyyy\\-mm\\-dd\\ hh:mm:ss"


def test_many_rows_stream_through() -> None:
    """Fifty thousand rows (several flushes into the zipped sheet) all arrive in order."""
    writer = XlsxWriter(["i", "s"])
    for i in range(50_000):
        writer.append({"i": i, "s": f"row {i}"})
    sheet = load_workbook(writer.finish(), read_only=True).worksheets[0]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == 50_000 and values[0] == (0, "row 0") and values[-1] == (49_999, "row 49999")
