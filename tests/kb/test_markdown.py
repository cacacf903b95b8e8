"""Behaviour of the one Markdown renderer: features, XSS resistance, bounded cost."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest

from kb import markdown
from kb.markdown import (
    MAX_BODY_CHARS,
    MAX_MARKUP,
    TOO_MUCH_MARKUP_NOTICE,
    BodyTooLarge,
    excerpt,
    plain_text,
    render,
    too_much_markup,
)
from tests.helpers import cpu_budget

# --- features -----------------------------------------------------------------


def test_table_renders_with_alignment() -> None:
    html = render("| a | b |\n|--:|---|\n| 1 | 2 |\n")
    assert "<table>" in html and "<th" in html and "<td" in html
    # A class, not a style attribute: the Content-Security-Policy blocks inline styles.
    assert '<th class="align-right">a</th>' in html and "style=" not in html
    assert "<th>b</th>" in html


def test_fenced_code_gets_language_class_and_escapes_content() -> None:
    html = render("```python\nprint('<b>')\n```\n")
    assert '<pre><code class="language-python">' in html
    assert "print('&lt;b&gt;')" in html


def test_hostile_fence_info_drops_class() -> None:
    html = render('```js" onmouseover="x\n1\n```\n')
    assert "<pre><code>1" in html
    assert "onmouseover" not in html


def test_task_list_renders_disabled_checkboxes() -> None:
    html = render("- [ ] todo\n- [x] done\n")
    boxes = re.findall(r"<input[^>]*>", html)
    assert len(boxes) == 2
    assert all('type="checkbox"' in b and "disabled" in b for b in boxes)
    assert "checked" not in boxes[0] and "checked" in boxes[1]
    assert '<ul class="contains-task-list">' in html
    assert "[ ]" not in html and "[x]" not in html
    # Exact bytes: the output must not depend on per-process hash ordering.
    assert render("- [x] a") == (
        '<ul class="contains-task-list">\n<li class="task-list-item">'
        '<input class="task-list-item-checkbox" checked="checked" type="checkbox"'
        ' disabled="disabled"> a</li>\n</ul>\n'
    )


def test_headings_get_unique_slug_ids() -> None:
    html = render("# Hello World\n\n## Hello World\n\n### !!!\n\n###### Deep\n")
    assert '<h1 id="h-hello-world">Hello World</h1>' in html
    assert '<h2 id="h-hello-world-1">' in html
    assert '<h3 id="h-section">' in html  # never an empty id
    assert '<h6 id="h-deep">' in html


def test_heading_ids_never_take_an_id_of_the_page() -> None:
    """Content must not clobber the page's own ids ("#answer-29" links, htmx swap targets)."""
    html = render("# Answer 29\n\n## rating-status-29\n")
    assert 'id="answer-29"' not in html and 'id="rating-status-29"' not in html
    assert '<h1 id="h-answer-29">' in html


def test_repeated_headings_get_unique_ids_in_linear_time() -> None:
    html = render("# a\n# a-1\n# a\n# a\n## A\n")
    assert re.findall(r'id="([^"]+)"', html) == ["h-a", "h-a-1", "h-a-2", "h-a-3", "h-a-4"]
    count = MAX_MARKUP // 2  # "#" and a line break each: as many as are still parsed
    with cpu_budget(2.5, f"{count} identical headings"):
        ids = re.findall(r'id="([^"]+)"', render("# a\n" * count))
    assert len(ids) == len(set(ids)) == count


def test_task_lists_in_nested_lists_and_quotes() -> None:
    html = render("- a\n  - [ ] b\n- c\n\n> 1. [X] d\n")
    assert html.count('class="contains-task-list"') == 2  # the inner bullet list and the ordered list
    assert '<ol class="contains-task-list">' in html
    assert html.count('<li class="task-list-item">') == 2
    assert "<ul>\n<li>a" in html  # the outer list has no task item of its own
    count = MAX_MARKUP // 4  # "-", "[", "]" and a line break each: as many as are still parsed
    with cpu_budget(2.5, f"{count} task items"):
        html = render("- [ ] a\n" * count)
    assert html.count("<input") == count


def test_strikethrough() -> None:
    assert re.search(r"<(s|del)>gone</\1>", render("~~gone~~"))


def test_emphasis_lists_and_quotes() -> None:
    html = render("*a* **b** `c`\n\n> q\n\n3. x\n4. y\n\n---\n")
    for fragment in ("<em>a</em>", "<strong>b</strong>", "<code>c</code>",
                     "<blockquote>", '<ol start="3">', "<hr>"):
        assert fragment in html


def test_links_and_images() -> None:
    html = render(
        "[ext](https://example.com/a?b=1) [rel](/attachments/abc) [mail](mailto:a@b.example) "
        '![img](/attachments/abc "A title") <https://auto.example>'
    )
    assert '<a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow">ext</a>' in html
    assert '<a href="/attachments/abc" rel="noopener noreferrer nofollow">rel</a>' in html
    assert 'href="mailto:a@b.example"' in html
    assert '<img src="/attachments/abc" alt="img" title="A title">' in html
    assert 'href="https://auto.example"' in html


def test_linkify_is_off() -> None:
    assert "<a" not in render("see https://example.com and www.example.com")


def test_raw_html_is_shown_as_text() -> None:
    assert render("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"


def test_data_images_only_as_base64_raster_images() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    assert f'<img src="{png}" alt="i">' in render(f"![i]({png})")
    for bad in ("data:image/svg+xml;base64,PHN2Zz4=", "data:text/html;base64,PHNjcmlwdD4=",
                "data:image/png,raw", 'data:image/png;base64,AA"onerror="x'):
        assert "<img" not in render(f"![i]({bad})"), bad
    # The same data: URL is refused as a link target, and as an autolink.
    assert "<a" not in render(f"[i]({png})")
    assert "<a" not in render(f"<{png}>")


def test_unlisted_schemes_are_not_links() -> None:
    for url in ("ftp://x.example/f", "tel:123", "notes:draft"):
        assert "<a" not in render(f"[x]({url})"), url


# --- XSS ----------------------------------------------------------------------

XSS_PAYLOADS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](java&Tab;script:alert(1))",
    "[x](java%0Ascript:alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](\x01javascript:alert(1))",
    "[x](\x00javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]: javascript:alert(1)\n\n[x]",
    "<javascript:alert(1)>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](javascript:alert(1))",
    "![x](JAVASCRIPT:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](vbscript:msgbox)",
    "[x](file:///etc/passwd)",
    '[x](https://a.example "t\\" onmouseover=alert(1)")',
    '[x]("onmouseover=alert(1))',
    '# h" onmouseover="alert(1)',
    "<!-- <script>alert(1)</script> -->",
    "<iframe src=javascript:alert(1)></iframe>",
]


class _Tags(HTMLParser):
    """Collects the real tags and attributes, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_are_inert(payload: str) -> None:
    html = render(payload)
    for tag, attrs in _Tags(html).tags:
        assert tag not in {"script", "svg", "iframe", "style", "object"}, html
        assert not [a for a in attrs if a.startswith("on")], html  # no event handlers
        for url in (attrs.get("href"), attrs.get("src")):
            if url is not None:
                assert not re.match(r"\s*(javascript|vbscript|file|data):", url, re.I), html
                assert re.match(r"(https?:|mailto:|/|#|%)", url), html  # safe or relative
    lowered = html.lower()
    for needle in ("<script", "<svg", "<iframe"):  # escaped text "&lt;script" is fine
        assert needle not in lowered, html


def test_script_tag_appears_as_escaped_text() -> None:
    html = render("<script>alert(1)</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_sanitiser_is_a_second_line_of_defence() -> None:
    # Bypass markdown-it to prove nh3 alone strips what a parser bug could emit.
    dirty = (
        '<a href="javascript:alert(1)" onclick="x">a</a><a href="data:text/html,x">b</a>'
        '<img src="data:image/svg+xml;base64,x" onerror="y"><script>alert(1)</script>'
        '<input type="text" name="q"><code class="x y">c</code>'
        '<ul class="evil contains-task-list"><li class="task-list-item">i</li></ul>'
        '<table><tr><td style="position:fixed">t</td>'
        '<td style="text-align:left">u</td><td class="align-left evil">v</td></tr></table>'
    )
    clean = markdown._CLEANER.clean(dirty)
    assert "javascript" not in clean and "data:" not in clean
    assert "onclick" not in clean and "onerror" not in clean and "<script" not in clean
    assert '<input type="checkbox" disabled="disabled">' in clean  # never a live text box
    assert "<code>c</code>" in clean and '<ul class="contains-task-list">' in clean
    assert "<td>t</td>" in clean and "<td>u</td>" in clean and "style=" not in clean
    assert '<td class="align-left">v</td>' in clean


# --- limits -------------------------------------------------------------------


def test_body_too_large() -> None:
    render("a" * MAX_BODY_CHARS)  # exactly at the limit is fine
    for fn in (render, plain_text, excerpt):
        with pytest.raises(BodyTooLarge):
            fn("a" * (MAX_BODY_CHARS + 1))
    assert issubclass(BodyTooLarge, ValueError)


PATHOLOGICAL = {
    "blockquotes": ">" * 50_000 + "x",
    "stars": "*" * 50_000,
    "brackets": "[" * 50_000,
    "list": "- " * 10_000 + "x",
    "bold": ("a **b** " * 25_000)[:MAX_BODY_CHARS],
    "underscores": "_" * 100_000,
    "backticks": "`" * 100_000,
    "nested_indent_lists": "".join("  " * i + "- x\n" for i in range(300)),
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_input_renders_in_bounded_time(name: str) -> None:
    text = PATHOLOGICAL[name]
    for fn in (render, plain_text):
        # CPU time, not wall time: other processes on a busy machine do not count.
        start = time.process_time()
        out = fn(text)
        elapsed = time.process_time() - start
        assert elapsed < 3.0, f"{fn.__name__}({name}) took {elapsed:.2f}s"
        assert "<script" not in out


# Pathological inputs, most at the full size limit. Linear now, but at 200 kB markdown-it-py itself needs 1-2.5 s of CPU
# on two busy cores, hence the generous budget: a quadratic regression takes 30 s and more, and the
# budget interrupts it.
HALF = MAX_BODY_CHARS // 2
AT_THE_LIMIT = {
    # Quadratic in mdit_py_plugins' anchors (every repeat retried "a-1", "a-2", ... from 1) and
    # tasklists (every item scanned back to its list's start): 80 kB of "# a" took 30 s.
    "same_heading": "# a\n" * (MAX_BODY_CHARS // 4),
    "same_setext_heading": "a\n-\n\n" * (MAX_BODY_CHARS // 5),
    "headings_and_suffixes": "# a\n# a-1\n# a-2\n" * (MAX_BODY_CHARS // 18),
    "task_items": "- [ ] a\n" * (MAX_BODY_CHARS // 8),
    "task_items_in_quote": "> - [x] a\n" * (MAX_BODY_CHARS // 10),
    "ordered_task_items": "1. [ ] a\n" * (MAX_BODY_CHARS // 9),
    # Other paths checked for quadratic work (linear), at half the limit to keep the suite quick: a
    # quadratic path would still take tens of seconds here.
    "many_links": "[a](/b) " * (HALF // 8),
    "link_openers_emphasis_closers": "[ a_" * (HALF // 4),  # markdown-it-py's slowest input
    "nested_brackets": "[" * (HALF // 2) + "a" + "]" * (HALF // 2),
    "nested_images": "![" * (HALF // 6) + "a" + "](b)" * (HALF // 6),
    "many_table_rows": "|a|b|\n|-|-|\n" + "|a|b|\n" * (HALF // 6 - 3),
    "emphasis_mismatched": "*a_ " * (HALF // 4),
}


@pytest.mark.parametrize("name", AT_THE_LIMIT)
def test_pathological_input_at_the_size_limit_renders_in_bounded_time(name: str) -> None:
    """Well under a second of CPU for any body within the size limit: parsing is linear, and text
    with more markup than MAX_MARKUP is shown as plain text instead of being parsed."""
    text = AT_THE_LIMIT[name]
    assert len(text) <= MAX_BODY_CHARS
    for fn in (render, plain_text):
        with cpu_budget(1.0, f"{fn.__name__}({name})"):
            out = fn(text)
        assert "<script" not in out


def test_text_with_too_much_markup_is_shown_as_typed() -> None:
    text = "# a <b>\n" * (MAX_MARKUP // 2)
    assert too_much_markup(text)
    with cpu_budget(1.0, "render of too much markup"):
        html = render(text)
    assert TOO_MUCH_MARKUP_NOTICE in html and "<h1" not in html
    assert "# a &lt;b&gt;\n# a &lt;b&gt;" in html  # escaped, as typed
    assert plain_text(text).startswith("# a b\n# a b\n")


def test_markup_within_the_budget_is_formatted_in_bounded_time() -> None:
    for text in ("- [ ] a\n" * (MAX_MARKUP // 4), "*a* " * (MAX_MARKUP // 2), "|a|b|\n|-|-|\n" + "|a|b|\n" * 4000):
        assert not too_much_markup(text)
        with cpu_budget(2.0, f"render of {text[:12]!r}..."):
            html = render(text)
        assert TOO_MUCH_MARKUP_NOTICE not in html


# --- plain text and excerpts --------------------------------------------------

SAMPLE = (
    "# Title &amp; more\n\nSome *emphasis*, `code <x>` and a [link](https://e.example).\n\n"
    "<script>alert(1)</script> a < b > c\n\n- [x] done item\n\n![alt text](/a.png)\n\n"
    "| h1 | h2 |\n|---|---|\n| c1 | c2 |\n\n```py\nprint(1)\n```\n"
)


def test_plain_text_has_text_but_no_markup() -> None:
    text = plain_text(SAMPLE)
    assert "<" not in text and ">" not in text
    assert text.startswith("Title & more\n\nSome emphasis, code x and a link.")
    for word in ("done item", "alt text", "h1 | h2", "c1 | c2", "print(1)", "alert(1)"):
        assert word in text
    assert "  " not in text and "\n\n\n" not in text
    assert "[x]" not in text and "*" not in text and "https://e.example" not in text


ORDER_HELP = """## Cancel an order

Check the status **first**:

| Status | Can cancel? | Refund |
|---|:-:|---|
| Placed | Yes | Full |
| Shipped | No | Partial |

1. Open *Orders*
2. Click **Cancel**
   - confirm with the customer
   - note the case number

Then call the  
customer back.
"""


def test_plain_text_keeps_cells_rows_items_and_headings_apart() -> None:
    # Search snippets and "copy answer" read this text: a table must not run together as
    # "Refund Placed Yes Full Shipped".
    assert plain_text(ORDER_HELP).split("\n") == [
        "Cancel an order",
        "",
        "Check the status first:",
        "",
        "Status | Can cancel? | Refund",
        "Placed | Yes | Full",
        "Shipped | No | Partial",
        "",
        "1. Open Orders",
        "2. Click Cancel",
        "• confirm with the customer",
        "• note the case number",
        "",
        "Then call the",  # a hard line break stays a line break
        "customer back.",
    ]
    # Excerpts stay on one line.
    assert excerpt(ORDER_HELP, 300).startswith("Cancel an order Check the status first: Status | Can cancel? | Refund "
                                               "Placed | Yes | Full")


def test_plain_text_code_blocks_keep_their_lines() -> None:
    text = plain_text("Run:\n\n```sh\nkb  reindex\n\nkb indexer --once\n```\n\n    indented <code>\n")
    assert text.split("\n") == ["Run:", "", "kb reindex", "kb indexer --once", "", "indented code"]


def test_excerpt_cuts_at_word_boundary() -> None:
    text = " ".join(f"word{i}" for i in range(100))
    short = excerpt(text, 30)
    assert len(short) <= 30 and short.endswith("…")
    assert short[:-1].split(" ")[-1].startswith("word")
    assert text.startswith(short[:-1] + " ")  # cut between whole words
    assert excerpt("short text") == "short text"
    assert excerpt("x" * 50, 10) == "x" * 9 + "…"  # one long word: hard cut
    assert "<" not in excerpt(SAMPLE, 60)
    with pytest.raises(ValueError):
        excerpt("abc", 0)


def test_concurrent_rendering_is_consistent() -> None:
    # One module-level MarkdownIt and nh3.Cleaner are shared by all request threads.
    expected = render(SAMPLE)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(render, [SAMPLE] * 64))
    assert results == [expected] * 64


def test_empty_input() -> None:
    assert render("") == ""
    assert plain_text("") == ""
    assert excerpt("") == ""
