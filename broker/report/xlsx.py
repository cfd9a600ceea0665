"""A streaming one-sheet XLSX writer: each row becomes XML text in the zip entry as it arrives.

General-purpose writers build (or at least dispatch) a cell object per value; a year of ledger
rows is ≈ 700,000 cells, which took openpyxl's write-only mode 25 s and xlsxwriter's
constant-memory mode about 7 s of CPU here. A sheet of plain values needs none of that: one
f-string per cell, strings inline (no shared-string table to hold in memory), instants as Excel
serial numbers with a date style, the whole package five tiny fixed parts plus the sheet.
Office Open XML: ECMA-376 Part 1 (SpreadsheetML); the `r` attributes are optional there.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import IO, Any
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# Style 0 plain, 1 bold (the header), 2 a date-time (custom number format 164).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_EPOCH = datetime(1899, 12, 30)
# XML 1.0 forbids most control characters even escaped; a stray one would make Excel refuse the file.
_CONTROL = {code: None for code in range(32) if code not in (9, 10, 13)}


def _text(value: str, style: str = "") -> str:
    clean = escape(value.translate(_CONTROL))
    space = ' xml:space="preserve"' if clean != clean.strip() else ""
    return f'<c t="inlineStr"{style}><is><t{space}>{clean}</t></is></c>'


def _cell(value: Any) -> str:
    if value is None:
        return "<c/>"
    if value is True or value is False:
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c><v>{value!r}</v></c>"
    if isinstance(value, datetime):
        # Excel has no time zones: an aware instant is written as its own wall time (UTC for the ledger).
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c s="2"><v>{serial!r}</v></c>'
    if isinstance(value, Enum):
        value = value.value
    return _text(str(value))


_DAY = timedelta(days=1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)


def row_xml(kinds: Sequence[str]) -> Callable[[Sequence[Any]], str]:
    """A function from one row of plain values to its `<row>` XML, for columns of known kinds.

    Kinds: "int", "bool", "time" (a datetime, naive UTC or aware) and "text". Used for the ledger
    export (hundreds of thousands of cells): a formatter per column instead of `_cell`'s type
    tests per value, and each distinct text's cell escaped once (the ledger's texts are a few
    dozen codes repeated).
    """
    texts: dict[str, str] = {}

    def number(value: Any) -> str:
        return "<c/>" if value is None else f"<c><v>{value}</v></c>"

    def flag(value: Any) -> str:
        return "<c/>" if value is None else f'<c t="b"><v>{int(value)}</v></c>'

    def instant(value: Any) -> str:
        if value is None:
            return "<c/>"
        serial = (value - (_EPOCH_UTC if value.tzinfo else _EPOCH)) / _DAY
        return f'<c s="2"><v>{serial!r}</v></c>'

    def plain(value: Any) -> str:
        if value is None:
            return "<c/>"
        cell = texts.get(value)
        if cell is None:
            cell = texts[value] = _text(str(value))
        return cell

    formats = [{"int": number, "bool": flag, "time": instant, "text": plain}[kind] for kind in kinds]

    def row(values: Sequence[Any]) -> str:
        return "<row>" + "".join([f(v) for f, v in zip(formats, values, strict=True)]) + "</row>"

    return row


class XlsxWriter:
    """One sheet named `title`, a bold frozen header row; `append` rows, then `finish` to stream the file."""

    def __init__(self, header: Sequence[str], *, title: str = "report") -> None:
        self.header = list(header)
        self.handle: IO[bytes] = tempfile.TemporaryFile()
        self.zip = zipfile.ZipFile(self.handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        name = escape(title[:31], {'"': "&quot;"})
        self.zip.writestr("[Content_Types].xml", _CONTENT_TYPES)
        self.zip.writestr("_rels/.rels", _ROOT_RELS)
        self.zip.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        self.zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self.zip.writestr("xl/styles.xml", _STYLES)
        self.sheet = self.zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self.pending: list[str] = [_SHEET_HEAD, "<row>", *(_text(str(n), ' s="1"') for n in self.header), "</row>"]

    def append(self, row: dict[str, Any]) -> None:
        pending = self.pending
        pending.append("<row>")
        pending.extend(_cell(row.get(name)) for name in self.header)
        pending.append("</row>")
        if len(pending) > 20_000:
            self._flush()

    def append_xml(self, rows: Sequence[str]) -> None:
        """Rows already made `<row>` XML (see `row_xml`)."""
        self.pending.extend(rows)
        if len(self.pending) > 2_000:
            self._flush()

    def _flush(self) -> None:
        self.sheet.write("".join(self.pending).encode())
        self.pending = []

    def finish(self) -> IO[bytes]:
        self.pending.append(_SHEET_TAIL)
        self._flush()
        self.sheet.close()
        self.zip.close()
        self.handle.seek(0)
        return self.handle
