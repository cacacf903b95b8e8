"""CSV cells that are safe to open in a spreadsheet (every CSV export uses this, and quotes every
cell: ``csv.writer(out, quoting=csv.QUOTE_ALL)``).

Following OWASP's advice on CSV injection: text that starts like a formula gets a leading
apostrophe, and every cell is quoted. Quoting alone is not enough: a spreadsheet that guesses
another delimiter, or a person pasting a cell, splits ``x;=cmd|' /C calc'!A0`` at the ``;`` and
evaluates the rest; so a formula start after any delimiter or line break gets its apostrophe too."""

from __future__ import annotations

import re
from datetime import date, datetime

# Text starting with one of these is evaluated (or run, "|" for DDE) by spreadsheet programs;
# the full-width forms are read as their ASCII twins by some (Japanese, Chinese) locales.
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r", "\n", "＝", "＋", "－", "＠")
# Where a spreadsheet may start a new cell or line when it guesses the format: comma, semicolon,
# tab, pipe, line breaks (then spaces and quotes, which it may trim).
_AFTER_DELIMITER = re.compile(r"([,;\t|\r\n][\s\"']*)([=+\-@|＝＋－＠])")
_LEADING = re.compile(r"[\s\"']*")


def safe_cell(value):
    """A CSV cell: text a spreadsheet would evaluate gets an apostrophe; times in ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        value = _AFTER_DELIMITER.sub(r"\1'\2", value)
        if value.startswith(FORMULA_START) or value[_LEADING.match(value).end():].startswith(FORMULA_START):
            value = "'" + value
    return value

