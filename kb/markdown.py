"""The one Markdown renderer for pages, editor preview and search snippets.

markdown-it refuses raw HTML and unsafe URLs; nh3 then re-checks the HTML against
an allowlist, in case a parser or plugin bug lets something through."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from kb.errors import TooLarge

__all__ = ["MAX_BODY_CHARS", "BodyTooLarge", "check_size", "escape_inline", "render", "plain_text", "excerpt"]

MAX_BODY_CHARS = 200_000
MAX_NESTING = 20  # caps recursion depth, which bounds the work per character of nested input

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Browsers skip tab/newline anywhere in a URL and controls at its ends; strip all (stricter).
_IGNORED = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/]*={0,2}")
_ALIGN_STYLE = re.compile(r"text-align:\s*(left|right|center);?")
_LANG_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,50}")
_SLUG_DROP = re.compile(r"[^\w\- ]")
_INLINE_MARKUP = re.compile(r"([\\`*_\[\]<>!&~|])")  # what can start inline markup mid-line


class BodyTooLarge(TooLarge, ValueError):
    """The Markdown body exceeds MAX_BODY_CHARS (a 413 wherever it surfaces)."""


def _url_ok(url: str, *, image: bool) -> bool:
    """Allow relative, http(s) and mailto URLs; data: only as an inline raster image."""
    flat = _IGNORED.sub("", unquote(url)).lower()  # undo %-, case and whitespace tricks
    if flat.startswith("data:"):
        return image and _DATA_IMAGE.fullmatch(flat) is not None
    scheme = _SCHEME.match(flat)
    return scheme is None or scheme.group(1) in _SAFE_SCHEMES


class _KbMarkdown(MarkdownIt):
    # validateLink cannot tell links from images, so it admits data:image here and
    # _drop_data_links removes it from ordinary links afterwards.
    def validateLink(self, url: str) -> bool:
        return _url_ok(url, image=True)


def _drop_data_links(state: StateCore) -> None:
    """Turn links (incl. autolinks) to data: URLs back into their plain text."""
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        kept: list[Token] = []
        dropping = False  # links cannot nest, so the next link_close is ours
        for child in token.children:
            href = str(child.attrGet("href") or "")
            if child.type == "link_open" and not _url_ok(href, image=False):
                dropping = True
            elif child.type == "link_close" and dropping:
                dropping = False
            else:
                kept.append(child)
        token.children = kept


def _align_classes(state: StateCore) -> None:
    """Table alignment as classes: the Content-Security-Policy forbids inline styles."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            match = _ALIGN_STYLE.fullmatch(str(token.attrGet("style") or ""))
            if match:
                token.attrs.pop("style", None)
                token.attrSet("class", f"align-{match.group(1)}")


# Heading ids live in their own namespace, so a heading such as "# Answer 29" can never take the
# id of an element of the page itself (a link target, an htmx swap target like "rating-status-29").
HEADING_ID_PREFIX = "h-"


def _slugify(title: str) -> str:
    slug = _SLUG_DROP.sub("", title.strip().lower()).replace(" ", "-")
    return slug[:80] or "section"  # never emit an empty id


class _Slugs:
    """Unique heading ids: "a", "a-1", "a-2", ... in linear time.

    mdit_py_plugins' anchors plugin retries "a-1", "a-2", ... from 1 for every repeated heading,
    which is quadratic ("# a" 20,000 times took 30 s); here each base remembers its next suffix."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.next_suffix: dict[str, int] = {}

    def unique(self, slug: str) -> str:
        if slug in self.used:
            n = self.next_suffix.get(slug, 1)
            while f"{slug}-{n}" in self.used:  # only skips ids taken by literal "a-1" headings
                n += 1
            self.next_suffix[slug] = n + 1
            slug = f"{slug}-{n}"
        self.used.add(slug)
        return slug


def _heading_ids(state: StateCore) -> None:
    """An id on every heading, from its text (replaces mdit_py_plugins.anchors)."""
    slugs = _Slugs()
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        children = tokens[index + 1].children or []
        title = "".join(c.content for c in children if c.type in ("text", "code_inline"))
        token.attrSet("id", HEADING_ID_PREFIX + slugs.unique(_slugify(title)))


_TODO = re.compile(r"\[([ xX])\][ \t\n\v\f\r]+")


def _task_lists(state: StateCore) -> None:
    """GitHub task lists ("- [ ] todo", "- [x] done") as disabled checkboxes, in one pass.

    Replaces mdit_py_plugins.tasklists, which scans back to the list's start for every item
    (quadratic: 20,000 items took seconds each); a stack of open lists finds the parent here."""
    tokens = state.tokens
    lists: list[Token] = []
    for index, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append(token)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif (token.type == "inline" and index >= 2 and lists and token.children
              and tokens[index - 1].type == "paragraph_open" and tokens[index - 2].type == "list_item_open"
              and token.children[0].type == "text"):
            match = _TODO.match(token.content)
            if match is None or not token.children[0].content.startswith(match.group(0)[:3]):
                continue
            checked = ' checked="checked"' if match.group(1) in "xX" else ""
            box = Token("html_inline", "", 0)
            box.content = f'<input class="task-list-item-checkbox"{checked} disabled="disabled" type="checkbox">'
            token.children[0].content = token.children[0].content[3:]
            token.content = token.content[3:]
            token.children.insert(0, box)
            tokens[index - 2].attrSet("class", "task-list-item")
            lists[-1].attrSet("class", "contains-task-list")


_MD = (
    _KbMarkdown("commonmark", {"html": False, "linkify": False, "maxNesting": MAX_NESTING})
    .enable(["table", "strikethrough"])
)
_MD.core.ruler.after("inline", "kb_drop_data_links", _drop_data_links)
_MD.core.ruler.after("kb_drop_data_links", "kb_task_lists", _task_lists)  # checkboxes rendered disabled
_MD.core.ruler.push("kb_heading_ids", _heading_ids)
_MD.core.ruler.push("kb_align_classes", _align_classes)


def parse(text: str) -> list:
    """The markdown-it tokens of ``text`` with kb's one parser (for text views such as "copy answer")."""
    return _MD.parse(text)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # nh3 only checks URL schemes globally; these are the per-tag rules.
    if attr in ("href", "src"):
        return value if _url_ok(value, image=tag == "img") else None
    if tag == "code" and attr == "class":
        return value if _LANG_CLASS.fullmatch(value) else None
    if tag == "input" and attr == "type":
        return "checkbox"
    if tag == "ol" and attr == "start":
        return value if value.isdigit() and len(value) <= 9 else None
    return value


_CLEANER = nh3.Cleaner(
    tags=set("p h1 h2 h3 h4 h5 h6 a img ul ol li blockquote pre code em strong del s table"
             " thead tbody tr th td hr br input span div sup sub".split()),
    attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"},
                "code": {"class"}, "ol": {"start"}, "input": {"type", "checked"},
                **{f"h{n}": {"id"} for n in range(1, 7)}},
    # "class" must not also be in `attributes` for these tags: nh3 panics at clean time.
    allowed_classes={"ul": {"contains-task-list"}, "ol": {"contains-task-list"}, "li": {"task-list-item"},
                     "input": {"task-list-item-checkbox"},
                     **{cell: {"align-left", "align-center", "align-right"} for cell in ("th", "td")}},
    # One forced attribute only: several are emitted in random (hash) order per process.
    set_tag_attribute_values={"input": {"disabled": "disabled"}},
    attribute_filter=_attribute_filter,
    url_schemes={"http", "https", "mailto", "data"},  # data: narrowed by _attribute_filter
    link_rel="noopener noreferrer nofollow",
)


def check_size(text: str) -> None:
    if len(text) > MAX_BODY_CHARS:
        raise BodyTooLarge(
            f"The text is too long ({len(text):,} characters; the limit is {MAX_BODY_CHARS:,}). "
            "Split it into several articles.",
            field="body",
        )


# markdown-it-py spends about 15 µs of CPU per piece of markup (a line, a bracket, an emphasis
# mark), linearly, but a body within the size limit can hold 100,000 of them (1.5 s per render).
# Past this budget (about 0.3 s) the text is shown and indexed as plain text instead: a real
# article has a few thousand at most.
MAX_MARKUP = 20_000
_MARKUP_CHARS = "\n#*_`[]()!<>|~=+-"
TOO_MUCH_MARKUP_NOTICE = ("This text has too much formatting to display it formatted; "
                          "it is shown as plain text.")


def too_much_markup(text: str) -> bool:
    """Whether parsing ``text`` would cost more than the budget (counted in linear time)."""
    return sum(text.count(c) for c in _MARKUP_CHARS) > MAX_MARKUP


def render(text: str) -> str:
    """Render Markdown to sanitised HTML. Raises BodyTooLarge over MAX_BODY_CHARS."""
    check_size(text)
    if too_much_markup(text):
        return (f'<p class="markup-notice">{TOO_MUCH_MARKUP_NOTICE}</p>\n'
                f'<pre class="plain-body">{html.escape(text)}</pre>\n')
    return _CLEANER.clean(_MD.render(text))


def _inline_text(children: Sequence[Token]) -> Iterator[str]:
    for child in children:
        if child.type in ("text", "code_inline"):
            yield child.content
        elif child.type == "softbreak":
            yield " "
        elif child.type == "hardbreak":
            yield "\n"
        elif child.type == "image" and child.children:  # keep alt text searchable
            yield from _inline_text(child.children)


# Blocks that start a new line of plain text.
_LINE_STARTS = frozenset({"paragraph_open", "heading_open", "list_item_open", "tr_open", "blockquote_open",
                          "bullet_list_open", "ordered_list_open", "table_open", "hr", "fence", "code_block"})


class _PlainLines:
    """Lines of plain text: one per paragraph, heading, list item and table row, and a blank line
    between top-level blocks. Whitespace inside a line is collapsed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.parts: list[str] = []
        self.marker = ""  # "• " or "3. ": written before the list item's first text
        self.cells = 0  # cells seen in the current table row
        self.gap = False  # a blank line before the next line (a new top-level block)

    def add(self, text: str) -> None:
        if self.marker and text.strip():
            self.parts.append(self.marker)
            self.marker = ""
        self.parts.append(text)

    def end_line(self) -> None:
        # Angle brackets are dropped so a snippet can never read as markup.
        joined = "".join(self.parts).replace("<", " ").replace(">", " ")
        self.parts = []
        for raw in joined.split("\n"):
            line = " ".join(raw.split())
            if line:
                if self.gap and self.lines:
                    self.lines.append("")
                self.gap = False
                self.lines.append(line)


def plain_text(text: str) -> str:
    """Visible text that still reads well without markup, for search documents and snippets.

    One line per paragraph, heading, list item ("• item", "2. item") and table row (cells joined
    by " | "), a blank line between top-level blocks, code blocks line by line. Not HTML: escape
    it when embedding."""
    check_size(text)
    out = _PlainLines()
    if too_much_markup(text):
        out.add(text)
        out.end_line()
        return "\n".join(out.lines)
    for token in _MD.parse(text):
        kind = token.type
        if kind in _LINE_STARTS:
            out.end_line()
            if token.level == 0:
                out.gap = True
        if kind == "list_item_open":
            out.marker = f"{token.info}{token.markup} " if token.info else "• "
        elif kind == "tr_open":
            out.cells = 0
        elif kind in ("th_open", "td_open"):
            if out.cells:
                out.parts.append(" | ")
            out.cells += 1
        elif kind == "inline" and token.children:
            for part in _inline_text(token.children):
                out.add(part)
        elif kind in ("fence", "code_block"):
            out.add(token.content)
            out.end_line()
    out.end_line()
    return "\n".join(out.lines)


def excerpt(text: str, length: int = 200) -> str:
    """plain_text cut at a word boundary to at most `length` chars, ending in "…"."""
    if length < 1:
        raise ValueError("length must be positive")
    plain = " ".join(plain_text(text).split())  # one line, for lists and previews
    if len(plain) <= length:
        return plain
    head = plain[: length - 1]  # reserve one char for the ellipsis
    if plain[length - 1] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" .,;:!?-") + "…"


def escape_inline(text: str) -> str:
    """``text`` as literal inline Markdown: for names and titles that kb writes into a body.

    Backslash-escapes every character that can open a link, image, emphasis, code span, entity,
    autolink or table cell mid-line (CommonMark allows escaping any ASCII punctuation), so the
    text reads as typed. Line breaks become spaces: block markup cannot start mid-line."""
    return _INLINE_MARKUP.sub(r"\\\1", " ".join(text.split()))
