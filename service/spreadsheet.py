"""CSV for spreadsheet programs: UTF-8 with a byte-order mark and `;` between cells, as Excel
with German settings opens it (the comma is the decimal mark there), and no cell that the
program would run as a formula (CWE-1236)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(safe_cell(value) for value in row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
