"""Word-level diffs between two texts, as escaped HTML with <ins>/<del>."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from html import escape

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class SideBySide:
    old: str
    new: str


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def _opcodes(old: str, new: str):
    a, b = _tokens(old), _tokens(new)
    return a, b, SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def inline_diff(old: str, new: str) -> str:
    """One text with removed words in <del> and added words in <ins>."""
    a, b, ops = _opcodes(old, new)
    out: list[str] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return "".join(out)


def side_by_side(old: str, new: str) -> SideBySide:
    """The old text with removals marked and the new text with additions marked."""
    a, b, ops = _opcodes(old, new)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in ops:
        old_part, new_part = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(f"<del>{old_part}</del>")
        if new_part:
            right.append(f"<ins>{new_part}</ins>")
    return SideBySide(old="".join(left), new="".join(right))
