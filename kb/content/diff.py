"""Word-level diffs between two texts, as escaped HTML with <ins>/<del>, in bounded time.

difflib's SequenceMatcher costs up to (old tokens x new tokens) and more on repetitive text:
two 40 kB revisions ("a b " * 10000 against "b a " * 10000) took 110 s. So texts are compared
line by line first (rare lines only, as difflib does for files), then word by word only inside
each changed block, and only while the work stays under a budget. A block over the budget is
shown whole (removed, then added), with TOO_LARGE_NOTICE before the diff."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from html import escape

__all__ = ["SideBySide", "TOO_LARGE_NOTICE", "inline_diff", "side_by_side"]

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")

# Candidate pairs (same line / same token on both sides) a SequenceMatcher may look at: its
# cost per pass (recursion adds a few passes): 250,000 pairs take at most about 0.2 s of CPU.
MAX_LINE_PAIRS = 300_000
MAX_BLOCK_PAIRS = 250_000
MAX_TOTAL_PAIRS = 1_000_000

TOO_LARGE_NOTICE = ("These texts are too large to compare word by word: "
                    "changed parts are shown whole, removed then added.")

Ops = list[tuple[str, int, int, int, int]]


@dataclass(frozen=True)
class SideBySide:
    old: str
    new: str
    word_by_word: bool = True  # False when some changed part was too large to compare word by word


@dataclass(frozen=True)
class Piece:
    """A run of text that is equal on both sides, or removed and/or added."""

    op: str  # "equal" | "change"
    old: str
    new: str


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def _common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (not overlapping the prefix)."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _pairs(a: Sequence[str], b: Sequence[str], *, autojunk: bool) -> int:
    """How many (i, j) with a[i] == b[j] SequenceMatcher would consider: its cost per pass.
    With autojunk, elements in more than 1 % of a long b are ignored, as SequenceMatcher does."""
    counts = Counter(b)
    if autojunk and len(b) >= 200:
        popular = len(b) // 100 + 1
        counts = Counter({item: n for item, n in counts.items() if n <= popular})
    return sum(counts[item] for item in a)


def _opcodes(a: Sequence[str], b: Sequence[str], *, autojunk: bool, budget: int,
             spend: Budget | None = None) -> Ops | None:
    """SequenceMatcher's opcodes with common ends trimmed first, or None when over ``budget``
    (what it cost is taken from ``spend``)."""
    head, tail = _common_ends(a, b)
    mid_a, mid_b = a[head:len(a) - tail], b[head:len(b) - tail]
    ops: Ops = []
    if head:
        ops.append(("equal", 0, head, 0, head))
    if mid_a or mid_b:
        if mid_a and mid_b:
            pairs = _pairs(mid_a, mid_b, autojunk=autojunk)
            if pairs > budget:
                return None
            if spend is not None:
                spend.spend(pairs)
            matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=autojunk)
            ops.extend((op, i1 + head, i2 + head, j1 + head, j2 + head)
                       for op, i1, i2, j1, j2 in matcher.get_opcodes())
        else:
            ops.append(("replace", head, head + len(mid_a), head, head + len(mid_b)))
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return ops


class Budget:
    """Candidate pairs left for comparing: shared by every comparison of one diff, so a text cut
    into many parts costs no more than one text compared whole."""

    def __init__(self, pairs: int = MAX_TOTAL_PAIRS) -> None:
        self.left = pairs

    def spend(self, pairs: int) -> None:
        self.left = max(0, self.left - pairs)


def _pieces(old: str, new: str, budget: Budget | None = None) -> tuple[list[Piece], bool]:
    """The diff as pieces, and whether every changed part was compared word by word."""
    budget = budget or Budget()
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    line_ops = _opcodes(old_lines, new_lines, autojunk=True, budget=min(MAX_LINE_PAIRS, budget.left), spend=budget)
    if line_ops is None:  # too many alike lines to align: one changed block between common ends
        head, tail = _common_ends(old_lines, new_lines)
        line_ops = [("equal", 0, head, 0, head),
                    ("replace", head, len(old_lines) - tail, head, len(new_lines) - tail),
                    ("equal", len(old_lines) - tail, len(old_lines), len(new_lines) - tail, len(new_lines))]
    pieces: list[Piece] = []
    word_by_word = True
    for op, i1, i2, j1, j2 in line_ops:
        old_part, new_part = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if op == "equal":
            if old_part:
                pieces.append(Piece("equal", old_part, new_part))
            continue
        a, b = _tokens(old_part), _tokens(new_part)
        word_ops = _opcodes(a, b, autojunk=False, budget=min(MAX_BLOCK_PAIRS, budget.left), spend=budget)
        if word_ops is None:
            word_by_word = False
            pieces.append(Piece("change", old_part, new_part))
            continue
        for word_op, k1, k2, l1, l2 in word_ops:
            kind = "equal" if word_op == "equal" else "change"
            pieces.append(Piece(kind, "".join(a[k1:k2]), "".join(b[l1:l2])))
    return pieces, word_by_word


def _notice(word_by_word: bool) -> Iterator[str]:
    if not word_by_word:
        yield f'<strong class="diff-notice">{escape(TOO_LARGE_NOTICE)}</strong>\n'


def inline_diff(old: str, new: str) -> str:
    """One text with removed words in <del> and added words in <ins>."""
    pieces, word_by_word = _pieces(old, new)
    out = list(_notice(word_by_word))
    for piece in pieces:
        if piece.op == "equal":
            out.append(escape(piece.old))
            continue
        if piece.old:
            out.append(f"<del>{escape(piece.old)}</del>")
        if piece.new:
            out.append(f"<ins>{escape(piece.new)}</ins>")
    return "".join(out)


def side_by_side(old: str, new: str) -> SideBySide:
    """The old text with removals marked and the new text with additions marked."""
    pieces, word_by_word = _pieces(old, new)
    left, right = list(_notice(word_by_word)), list(_notice(word_by_word))
    for piece in pieces:
        old_part, new_part = escape(piece.old), escape(piece.new)
        if piece.op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(f"<del>{old_part}</del>")
        if new_part:
            right.append(f"<ins>{new_part}</ins>")
    return SideBySide(old="".join(left), new="".join(right), word_by_word=word_by_word)
