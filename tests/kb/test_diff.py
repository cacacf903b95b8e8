"""Word diffs: line by line first, word by word inside changed blocks, in bounded time."""

from __future__ import annotations

import random

import pytest

from kb.content.diff import TOO_LARGE_NOTICE, inline_diff, side_by_side
from kb.markdown import MAX_BODY_CHARS
from tests.helpers import cpu_budget


def test_inline_diff_marks_changed_words_and_escapes() -> None:
    assert inline_diff("one two three", "one four three") == "one <del>two</del><ins>four</ins> three"
    assert inline_diff("a <b>", "a <i>") == "a &lt;<del>b</del><ins>i</ins>&gt;"
    assert inline_diff("same\n", "same\n") == "same\n"
    assert inline_diff("", "new") == "<ins>new</ins>"
    assert inline_diff("old", "") == "<del>old</del>"


def test_side_by_side_marks_each_side() -> None:
    diff = side_by_side("Refunds within 30 days.", "Refunds within 14 days.")
    assert diff.old == "Refunds within <del>30</del> days."
    assert diff.new == "Refunds within <ins>14</ins> days."
    assert diff.word_by_word


def test_words_are_compared_inside_changed_lines_only() -> None:
    old = "# Title\n\nFirst paragraph stays.\n\nSecond has five words here.\n\nLast one stays.\n"
    new = "# Title\n\nFirst paragraph stays.\n\nSecond has three words here.\n\nLast one stays.\n"
    assert inline_diff(old, new) == old.replace("five", "<del>five</del><ins>three</ins>")


def test_a_long_paragraph_with_one_edit_is_still_compared_word_by_word() -> None:
    words = [f"word{i}" for i in range(20_000)]  # one 180 kB line
    old = " ".join(words)
    new = " ".join(words[:10_000] + ["changed"] + words[10_001:])
    with cpu_budget(2.0, "one edit in a long paragraph"):
        html = inline_diff(old, new)
    assert "<del>word10000</del><ins>changed</ins>" in html and TOO_LARGE_NOTICE not in html


def test_too_large_to_compare_word_by_word_is_said_and_shown_whole() -> None:
    # The case: 110 s on the review page, the diff API and the conflict page.
    old, new = "a b " * 10_000, "b a " * 10_000
    with cpu_budget(2.0, "40 kB of 'a b' against 'b a'"):
        html = inline_diff(old, new)
        side = side_by_side(old, new)
    assert html.startswith(f'<strong class="diff-notice">{TOO_LARGE_NOTICE}</strong>')
    assert html == f'<strong class="diff-notice">{TOO_LARGE_NOTICE}</strong>\n<del>{old}</del><ins>{new}</ins>'
    assert not side.word_by_word and TOO_LARGE_NOTICE in side.old and TOO_LARGE_NOTICE in side.new
    assert "<del>" in side.old and "<ins>" in side.new


def _random_words(alphabet: int, count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(str(rng.randrange(alphabet)) for _ in range(count))


def _random_lines(alphabet: int, count: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(f"line {rng.randrange(alphabet)} of text\n" for _ in range(count))


HALF = MAX_BODY_CHARS // 2
PATHOLOGICAL_DIFFS = {
    "ab_against_ba": ("a b " * 10_000, "b a " * 10_000),
    "ab_against_ba_full_size": ("a b " * (MAX_BODY_CHARS // 4), "b a " * (MAX_BODY_CHARS // 4)),
    "alternating_lines": ("a\nb\n" * (MAX_BODY_CHARS // 4), "b\na\n" * (MAX_BODY_CHARS // 4)),
    "few_distinct_lines": (_random_lines(150, 9_000, 1), _random_lines(150, 9_000, 2)),
    "many_distinct_lines": (_random_lines(3_000, 9_000, 3), _random_lines(3_000, 9_000, 4)),
    "few_distinct_words": (_random_words(5, HALF, 5)[:MAX_BODY_CHARS], _random_words(5, HALF, 6)[:MAX_BODY_CHARS]),
    "punctuation": (".," * HALF, ",." * HALF),
    "one_character": ("x" * MAX_BODY_CHARS, "y" * MAX_BODY_CHARS),
    "empty_against_full": ("", "a b " * (MAX_BODY_CHARS // 4)),
    "paragraphs_of_few_words": ("\n\n".join([_random_words(4, 300, 7)] * 100),
                                "\n\n".join([_random_words(4, 300, 8)] * 100)),
    "many_medium_blocks": ("".join(f"anchor {i}\n{_random_words(5, 400, i)}\n" for i in range(90)),
                           "".join(f"anchor {i}\n{_random_words(5, 400, -i)}\n" for i in range(90))),
}


@pytest.mark.parametrize("name", PATHOLOGICAL_DIFFS)
def test_pathological_diffs_run_in_bounded_time(name: str) -> None:
    old, new = PATHOLOGICAL_DIFFS[name]
    assert len(old) <= MAX_BODY_CHARS and len(new) <= MAX_BODY_CHARS
    with cpu_budget(5.0, f"diff({name})"):
        html = inline_diff(old, new)
        side = side_by_side(old, new)
    # Nothing is lost: without the marks, each side reads as its text.
    strip = lambda s: s.replace(f'<strong class="diff-notice">{TOO_LARGE_NOTICE}</strong>\n', "")  # noqa: E731
    for tag in ("<del>", "</del>", "<ins>", "</ins>"):
        side = type(side)(old=side.old.replace(tag, ""), new=side.new.replace(tag, ""), word_by_word=side.word_by_word)
    assert strip(side.old) == old.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert strip(side.new) == new.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert ("diff-notice" in html) == (not side.word_by_word)
