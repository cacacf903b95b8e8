"""A diff to read: the Markdown cut into blocks (paragraphs, list items, headings, code blocks),
blocks aligned, words marked inside changed blocks, unchanged blocks folded away.

Bounded like ``kb.content.diff`` (whose comparisons it uses): cutting is linear, at most
MAX_BLOCKS blocks per side (the rest of a longer text is its last block), blocks are aligned by
SequenceMatcher only under the same pair budget as lines, and every word comparison of one diff
draws on one shared ``Budget``; what is over it is shown whole, removed then added."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from html import escape
from typing import Literal

from kb.content.diff import MAX_LINE_PAIRS, TOO_LARGE_NOTICE, Budget, Piece, _common_ends, _opcodes, _pieces

__all__ = ["BlockDiff", "Fold", "Row", "block_diff", "blocks", "MAX_BLOCKS"]

MAX_BLOCKS = 2_000
# Unchanged blocks shown on each side of a change, so the reader sees where it is.
CONTEXT = 1

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}#{1,6}(?:\s|$)")
_LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])(?:\s|$)")

BlockKind = Literal["paragraph", "heading", "list item", "code block"]
PLURALS = {"paragraph": "paragraphs", "heading": "headings", "list item": "list items", "code block": "code blocks"}


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str


def blocks(text: str) -> list[Block]:
    """The text's blocks in order: a heading line, a list item with its continuation lines, a fenced
    code block, or a paragraph (lines up to a blank line). Blank lines separate and are dropped."""
    out: list[Block] = []
    lines: list[str] = []
    kind: BlockKind = "paragraph"
    fence = ""

    def close() -> None:
        if lines:
            out.append(Block(kind, "\n".join(lines)))
            lines.clear()

    for line in text.splitlines():
        if len(out) >= MAX_BLOCKS - 1:  # the rest of a very long text is one last block
            lines.append(line)
            continue
        if fence:
            lines.append(line)
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                close()
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            close()
            kind, fence = "code block", opening.group(1)
            lines.append(line)
        elif not line.strip():
            close()
        elif _HEADING.match(line):
            close()
            out.append(Block("heading", line))
        elif _LIST_ITEM.match(line):
            close()
            kind = "list item"
            lines.append(line)
        else:
            if not lines:
                kind = "paragraph"
            lines.append(line)
    close()
    return out


@dataclass(frozen=True)
class Row:
    """One block as shown: unchanged, changed (words marked), added or removed. HTML is escaped."""

    kind: Literal["equal", "changed", "added", "removed"]
    block: BlockKind
    inline: str  # one text with <del> and <ins>
    old: str  # the old side with <del> ("" for an added block)
    new: str  # the new side with <ins> ("" for a removed block)


@dataclass(frozen=True)
class Fold:
    """Unchanged blocks folded away (``summary``: "12 unchanged paragraphs")."""

    rows: list[Row]
    kind: str = "folded"

    @property
    def summary(self) -> str:
        kinds = {row.block for row in self.rows}
        noun = next(iter(kinds)) if len(kinds) == 1 else "part"
        return f"{len(self.rows)} unchanged {noun if len(self.rows) == 1 else PLURALS.get(noun, 'parts')}"


@dataclass
class BlockDiff:
    items: list[Row | Fold] = field(default_factory=list)
    changed: int = 0  # rows changed, added or removed
    unchanged: int = 0
    word_by_word: bool = True  # False when a change was too large to compare word by word

    @property
    def notice(self) -> str:
        return "" if self.word_by_word else TOO_LARGE_NOTICE

    @property
    def summary(self) -> str:
        if not self.changed:
            return "The text did not change."
        parts = f"{self.changed} changed part{'' if self.changed == 1 else 's'}"
        return f"{parts}, {self.unchanged} unchanged" if self.unchanged else parts


def _row(kind, block: BlockKind, pieces: list[Piece]) -> Row:
    inline, left, right = [], [], []
    for piece in pieces:
        old, new = escape(piece.old), escape(piece.new)
        if piece.op == "equal":
            inline.append(new)
            left.append(old)
            right.append(new)
            continue
        if old:
            inline.append(f"<del>{old}</del>")
            left.append(f"<del>{old}</del>")
        if new:
            inline.append(f"<ins>{new}</ins>")
            right.append(f"<ins>{new}</ins>")
    return Row(kind, block, "".join(inline), "".join(left), "".join(right))


def _similar(a: Block, b: Block) -> bool:
    """Whether ``b`` reads as an edit of ``a`` (linear: the words both have, in any order)."""
    return a.kind == b.kind and SequenceMatcher(None, a.text.split(), b.text.split(), autojunk=False).quick_ratio() >= .5


def _replaced(old: list[Block], new: list[Block], budget: Budget) -> tuple[list[Row], bool]:
    """Rows for a stretch where ``old`` blocks became ``new`` ones: like blocks at both ends are
    edits of each other; what is left in the middle was added, removed, edited one for one, or
    (blocks split or joined) compared as one text. Each block is looked at a bounded number of times."""
    head = 0
    while head < min(len(old), len(new)) and _similar(old[head], new[head]):
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and _similar(old[-1 - tail], new[-1 - tail]):
        tail += 1
    pairs_head = list(zip(old[:head], new[:head]))
    pairs_tail = list(zip(old[len(old) - tail:], new[len(new) - tail:]))
    mid_old, mid_new = old[head:len(old) - tail], new[head:len(new) - tail]
    rows: list[Row] = []
    word_by_word = True

    def edited(a: Block, b: Block) -> None:
        nonlocal word_by_word
        pieces, whole = _pieces(a.text, b.text, budget)
        rows.append(_row("changed", b.kind, pieces))
        word_by_word &= whole

    for a, b in pairs_head:
        edited(a, b)
    if not mid_old:
        rows += [_row("added", b.kind, [Piece("change", "", b.text)]) for b in mid_new]
    elif not mid_new:
        rows += [_row("removed", b.kind, [Piece("change", b.text, "")]) for b in mid_old]
    elif len(mid_old) == len(mid_new):
        for a, b in zip(mid_old, mid_new):
            edited(a, b)
    else:
        edited(Block(mid_old[0].kind, "\n\n".join(b.text for b in mid_old)),
               Block(mid_new[0].kind, "\n\n".join(b.text for b in mid_new)))
    for a, b in pairs_tail:
        edited(a, b)
    return rows, word_by_word


def _rows(old: list[Block], new: list[Block]) -> tuple[list[Row], bool]:
    ops = _opcodes([b.text for b in old], [b.text for b in new], autojunk=True, budget=MAX_LINE_PAIRS)
    if ops is None:  # too many alike blocks to align: one changed stretch between common ends
        head, tail = _common_ends([b.text for b in old], [b.text for b in new])
        ops = [("equal", 0, head, 0, head), ("replace", head, len(old) - tail, head, len(new) - tail),
               ("equal", len(old) - tail, len(old), len(new) - tail, len(new))]
    budget, word_by_word, rows = Budget(), True, []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            rows += [Row("equal", b.kind, escape(b.text), escape(b.text), escape(b.text)) for b in new[j1:j2]]
        else:
            replaced, whole = _replaced(old[i1:i2], new[j1:j2], budget)
            rows += replaced
            word_by_word &= whole
    return rows, word_by_word


def block_diff(old: str, new: str, *, context: int = CONTEXT) -> BlockDiff:
    """The changed blocks of ``new`` against ``old`` with ``context`` unchanged blocks around each;
    longer runs of unchanged blocks are folded (a run of one is shown)."""
    rows, word_by_word = _rows(blocks(old), blocks(new))
    changed = [i for i, row in enumerate(rows) if row.kind != "equal"]
    shown = [row.kind != "equal" for row in rows]
    for i in changed:
        for j in range(max(0, i - context), min(len(rows), i + context + 1)):
            shown[j] = True
    result = BlockDiff(changed=len(changed), unchanged=len(rows) - len(changed), word_by_word=word_by_word)
    run: list[Row] = []
    for row, show in zip(rows, shown):
        if not show:
            run.append(row)
            continue
        _flush(result, run)
        result.items.append(row)
    _flush(result, run)
    return result


def _flush(result: BlockDiff, run: list[Row]) -> None:
    if len(run) == 1:
        result.items.append(run[0])
    elif run:
        result.items.append(Fold(list(run)))
    run.clear()
