"""CSV cells a spreadsheet would evaluate are neutralised, wherever the spreadsheet splits them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from kb.csvcells import FORMULA_START, safe_cell

PAYLOADS = [
    "=1+1", "+1+1", "-1+1", "@SUM(A1:A9)", "|calc", "\t=1", "\r=1", "\n=1",
    "x;=cmd|' /C calc'!A0",  # the search-log case: a spreadsheet splitting at ";" ran the rest
    "x,=cmd|' /C calc'!A0", "x\t=1+1", "x|=1+1", "x\n=1+1", "x\r\n@SUM(1)", "x; =1+1", "x;\"=1+1",
    "x;'=1+1", " =1+1", "\"=1+1", "'=1+1", "a;b;+1", "＝1+1", "x;＠SUM(1)", "=HYPERLINK(\"http://evil.example\")",
]


def _cells_as_a_spreadsheet_might_split(text: str) -> list[str]:
    """Every piece a careless import could make a cell of: split at any delimiter or line break,
    quotes and spaces trimmed. The CSV quoting is ignored on purpose: the worst case."""
    return [piece.strip(" \"") for piece in re.split(r"[,;\t|\r\n]", text)]


def writer(out):
    return csv.writer(out, quoting=csv.QUOTE_ALL)  # as every export writes


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_piece_of_the_csv_starts_a_formula(payload: str) -> None:
    out = io.StringIO()
    writer(out).writerow(["a", safe_cell(payload), 3])
    for piece in _cells_as_a_spreadsheet_might_split(out.getvalue()):
        assert not piece.startswith(FORMULA_START), (payload, out.getvalue(), piece)
    # What the cell said is kept, behind apostrophes.
    (row,) = csv.reader(io.StringIO(out.getvalue()))
    assert row[1].replace("'", "") == payload.replace("'", "")


def test_plain_values_are_unchanged() -> None:
    assert safe_cell("Refunds within 30 days; see policy") == "Refunds within 30 days; see policy"
    assert safe_cell("a-b, c+d") == "a-b, c+d"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell(None) is None
    assert safe_cell(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"
    assert safe_cell(date(2026, 1, 2)) == "2026-01-02"
