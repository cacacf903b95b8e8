"""CSV cells that are safe to open in a spreadsheet (every CSV export uses this)."""

from __future__ import annotations

from datetime import date, datetime

# Text starting with one of these is evaluated as a formula by spreadsheet programs (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A CSV cell: text a spreadsheet would evaluate gets a leading apostrophe; times in ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
