"""The readable diff: blocks aligned, words marked inside changed blocks, unchanged blocks folded,
in bounded time whatever the bodies (the review page and History show it)."""

from __future__ import annotations

import random
import re

import pytest

from kb.content.block_diff import MAX_BLOCKS, BlockDiff, Fold, block_diff, blocks
from kb.content.diff import TOO_LARGE_NOTICE
from kb.markdown import MAX_BODY_CHARS
from tests.helpers import cpu_budget
from tests.kb.test_diff import PATHOLOGICAL_DIFFS

ARTICLE = "\n\n".join(["# Refunds", "How refunds work for card payments."]
                      + [f"Paragraph {i} explains one more rule that stays as it was." for i in range(12)]
                      + ["- Ask for the order number\n- Check the payment date",
                         "Refunds are possible within 30 days of delivery.", "## Exceptions", "Gift cards are final."])


def _shown(diff: BlockDiff) -> list[str]:
    return [item.kind if isinstance(item, Fold) else f"{item.kind}:{item.inline}" for item in diff.items]


def test_blocks_are_paragraphs_headings_list_items_and_code() -> None:
    text = "# Title\nFirst line\nsecond line\n\n- one\n  more of one\n- two\n1. three\n\n```\ncode\n\nstill code\n```\nAfter."
    assert [(b.kind, b.text) for b in blocks(text)] == [
        ("heading", "# Title"), ("paragraph", "First line\nsecond line"), ("list item", "- one\n  more of one"),
        ("list item", "- two"), ("list item", "1. three"), ("code block", "```\ncode\n\nstill code\n```"),
        ("paragraph", "After.")]


def test_one_edited_paragraph_is_shown_with_its_words_marked_and_the_rest_folded() -> None:
    diff = block_diff(ARTICLE, ARTICLE.replace("within 30 days", "within 14 days"))
    assert diff.changed == 1 and diff.word_by_word
    changed = [item for item in diff.items if not isinstance(item, Fold) and item.kind == "changed"]
    assert [row.inline for row in changed] == ["Refunds are possible within <del>30</del><ins>14</ins> days of delivery."]
    assert changed[0].old == "Refunds are possible within <del>30</del> days of delivery."
    assert changed[0].new == "Refunds are possible within <ins>14</ins> days of delivery."
    # One unchanged block of context on each side; the 15 blocks before are folded into one.
    folds = [item for item in diff.items if isinstance(item, Fold)]
    assert len(folds) == 1 and folds[0].summary == "15 unchanged parts" and len(diff.items) == 5
    assert diff.summary == "1 changed part, 18 unchanged"


def test_added_removed_and_split_blocks() -> None:
    new = (ARTICLE.replace("- Check the payment date", "- Check the payment date today\n- Note the card type")
           .replace("Paragraph 3 explains one more rule that stays as it was.\n\n", ""))
    kinds = [s.split(":")[0] for s in _shown(block_diff(ARTICLE, new))]
    assert kinds.count("removed") == 1 and kinds.count("added") == 1 and kinds.count("changed") == 1
    shown = _shown(block_diff(ARTICLE, new))
    assert "removed:<del>Paragraph 3 explains one more rule that stays as it was.</del>" in shown
    assert "changed:- Check the payment date<ins> today</ins>" in shown
    assert "added:<ins>- Note the card type</ins>" in shown


def test_unchanged_text_and_escaping() -> None:
    same = block_diff(ARTICLE, ARTICLE)
    assert same.changed == 0 and same.summary == "The text did not change."
    assert [item.summary for item in same.items] == ["19 unchanged parts"]
    marked = block_diff("Use <b>bold</b> & more.", "Use <i>bold</i> & more.")
    assert marked.items[0].inline == "Use &lt;<del>b</del><ins>i</ins>&gt;bold&lt;/<del>b</del><ins>i</ins>&gt; &amp; more."


def test_a_fold_of_paragraphs_says_paragraphs() -> None:
    old = "\n\n".join(f"Rule {i} stays." for i in range(10)) + "\n\nLast rule: 30 days."
    diff = block_diff(old, old.replace("30", "14"))
    assert isinstance(diff.items[0], Fold) and diff.items[0].summary == "9 unchanged paragraphs"


def test_many_blocks_are_capped() -> None:
    text = "\n\n".join(f"p{i}" for i in range(MAX_BLOCKS * 3))
    cut = blocks(text)
    assert len(cut) == MAX_BLOCKS and cut[-1].text.endswith(f"p{MAX_BLOCKS * 3 - 1}")


def _paragraphs(words: int, count: int, seed: int, alphabet: int = 5) -> str:
    rng = random.Random(seed)
    return "\n\n".join(" ".join(str(rng.randrange(alphabet)) for _ in range(words)) for _ in range(count))


BLOCK_PATHOLOGIES = {
    **PATHOLOGICAL_DIFFS,
    "many_tiny_blocks": ("a\n\nb\n\n" * (MAX_BODY_CHARS // 6), "b\n\na\n\n" * (MAX_BODY_CHARS // 6)),
    "many_list_items": ("- a\n- b\n" * (MAX_BODY_CHARS // 8), "- b\n- a\n" * (MAX_BODY_CHARS // 8)),
    "every_paragraph_edited": (_paragraphs(60, 1_500, 1), _paragraphs(60, 1_500, 2)),
    "paragraph_count_differs": (_paragraphs(40, 2_000, 3), _paragraphs(40, 1_500, 4)),
    "one_unclosed_fence": ("```\n" + "a b\n" * (MAX_BODY_CHARS // 5), "```\n" + "b a\n" * (MAX_BODY_CHARS // 5)),
    "huge_paragraph_against_many": ("a b " * (MAX_BODY_CHARS // 4), "a\n\nb\n\n" * (MAX_BODY_CHARS // 6)),
}


@pytest.mark.parametrize("name", BLOCK_PATHOLOGIES)
def test_large_and_pathological_bodies_diff_in_bounded_time(name: str) -> None:
    old, new = BLOCK_PATHOLOGIES[name]
    old, new = old[:MAX_BODY_CHARS], new[:MAX_BODY_CHARS]
    with cpu_budget(3.0, f"block_diff({name})"):
        diff = block_diff(old, new)
    # Nothing is lost: the new side of every block, without the marks, is the new text's blocks.
    rows = [row for item in diff.items for row in (item.rows if isinstance(item, Fold) else [item])]
    plain = lambda s: re.sub(r"<del>.*?</del>|</?ins>", "", s, flags=re.S)  # noqa: E731
    shown_new = "\n\n".join(plain(row.new) for row in rows if row.kind != "removed")
    expected = "\n\n".join(b.text for b in blocks(new)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert re.sub(r"\s+", " ", shown_new).strip() == re.sub(r"\s+", " ", expected).strip()
    assert (diff.notice == TOO_LARGE_NOTICE) == (not diff.word_by_word)
