""""Copy answer": the certified text of an answer, as plain text an agent can paste to a customer.

Only certified text is ever copied (never a draft, nor an uncertified forum answer): an article's
or answer's certified revision, and for a question its accepted answer's. Markdown syntax is
removed, but the shape stays readable: paragraphs are separated by a blank line, list items and
table rows get lines of their own, and a link keeps its address in brackets.

An article may mark the part meant for the customer with a heading such as "What to tell the
customer" (``CUSTOMER_HEADINGS``): "Copy answer" then copies that section only (up to the next
heading of the same or a higher level), not the notes for agents around it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it.token import Token
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision
from kb.errors import NotFound
from kb.markdown import check_size, parse, too_much_markup

_BULLET = "• "
_NO_COPY = "There is no certified answer to copy here yet."
# Headings (any level, any case, a final colon ignored) that mark the part meant for the customer.
CUSTOMER_HEADINGS = ("what to tell the customer", "tell the customer", "for the customer",
                     "answer for the customer", "reply to the customer")


# --- which text ----------------------------------------------------------------------------------


def copy_targets(*, session: Session, entry_ids: list[int]) -> dict[int, int]:
    """For search hits: entry id -> the entry whose certified text "Copy answer" copies (itself for
    a certified article or answer, the accepted answer for a question). Entries with nothing
    certified to copy are left out, so they get no button."""
    if not entry_ids:
        return {}
    rows = session.exec(select(Entry.id, Entry.kind, Entry.certified_revision_id, Entry.accepted_answer_id)
                        .where(Entry.id.in_(entry_ids))).all()
    accepted = [answer_id for _, kind, _, answer_id in rows if kind == EntryKind.question.value and answer_id]
    certified_answers = set(session.exec(select(Entry.id).where(
        Entry.id.in_(accepted), Entry.certified_revision_id.is_not(None)))) if accepted else set()
    targets: dict[int, int] = {}
    for entry_id, kind, certified_revision_id, answer_id in rows:
        if kind == EntryKind.question.value:
            if answer_id in certified_answers:
                targets[entry_id] = answer_id
        elif certified_revision_id:
            targets[entry_id] = entry_id
    return targets


def copied_answer(*, session: Session, actor: User, entry_id: int) -> tuple[Entry, Revision]:
    """The entry and certified revision "Copy answer" copies for ``entry_id``, as ``actor`` may see
    them; NotFound when the entry is not visible or has no certified answer."""
    entry = content.get_entry(session=session, actor=actor, entry_id=entry_id)
    if entry.kind == EntryKind.question.value:
        if not entry.accepted_answer_id:
            raise NotFound(_NO_COPY)
        entry = content.get_entry(session=session, actor=actor, entry_id=entry.accepted_answer_id)
    if not entry.certified_revision_id:
        raise NotFound(_NO_COPY)
    return entry, session.get(Revision, entry.certified_revision_id)


# --- the part for the customer ------------------------------------------------------------------


def _customer_section(markdown: str) -> tuple[str, str] | None:
    """(heading, Markdown of its section) of the first heading in ``CUSTOMER_HEADINGS``, or None."""
    if too_much_markup(markdown):  # shown as typed: no headings to go by
        return None
    tokens = parse(markdown)
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or not token.map:
            continue
        heading = tokens[index + 1].content.strip()
        if heading.rstrip(":").strip().casefold() not in CUSTOMER_HEADINGS:
            continue
        end = next((t.map[0] for t in tokens[index + 1:] if t.type == "heading_open" and t.map
                    and int(t.tag[1:]) <= int(token.tag[1:])), None)
        lines = markdown.splitlines()
        return heading, "\n".join(lines[token.map[1]:end])
    return None


def customer_heading(markdown: str) -> str | None:
    """The heading of the part "Copy answer" copies, when the text marks one."""
    section = _customer_section(markdown)
    return section[0] if section else None


def customer_text(markdown: str) -> str:
    """What "Copy answer" puts on the clipboard: the part for the customer when the text marks
    one (and it is not empty), else the whole text; as plain text (``readable_text``)."""
    check_size(markdown)
    section = _customer_section(markdown)
    if section is not None and section[1].strip():
        return readable_text(section[1])
    return readable_text(markdown)


# --- how it reads --------------------------------------------------------------------------------


def _link_suffix(href: str, text: str) -> str:
    """A link's address, when it is one a customer can open and the text does not already say it."""
    if href.startswith("mailto:"):
        address = href.removeprefix("mailto:")
        return "" if address in text else f" ({address})"
    if href.startswith(("http://", "https://")) and href not in text:
        return f" ({href})"
    return ""


def _inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    link: tuple[str, int] | None = None  # (href, where the link's text starts in parts)
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline(child.children or []))
        elif child.type == "link_open":
            link = (str(child.attrGet("href") or ""), len(parts))
        elif child.type == "link_close" and link is not None:
            href, start = link
            parts.append(_link_suffix(href, "".join(parts[start:])))
            link = None
    return "".join(parts).strip()


def readable_text(markdown: str) -> str:
    """Markdown as plain text for a customer: no Markdown syntax, one line per paragraph, list
    item and table row, blank lines between blocks."""
    check_size(markdown)
    if too_much_markup(markdown):  # as the page shows it: the text as typed (parsing is capped)
        return "\n".join(line.rstrip() for line in markdown.splitlines()).strip()
    lines: list[str] = []
    lists: list[list] = []  # per open list: [ordered, next number]
    marker = ""  # the bullet or number waiting for the list item's first line
    row: list[str] | None = None
    for token in parse(markdown):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append([kind == "ordered_list_open", int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                lines.append("")
        elif kind == "list_item_open":
            ordered, number = lists[-1]
            marker = f"{number}. " if ordered else _BULLET
            lists[-1][1] += 1
        elif kind == "inline":
            text = _inline(token.children or [])
            if row is not None:
                row.append(text)
                continue
            indent = "  " * max(len(lists) - 1, 0)
            # A list item's later paragraphs line up under its first one.
            first = indent + (marker or ("  " if lists else ""))
            marker = ""
            lines.extend(first + line if i == 0 else indent + ("  " if lists else "") + line
                         for i, line in enumerate(text.split("\n")))
        elif kind in ("paragraph_close", "heading_close") and not lists:
            lines.append("")
        elif kind in ("fence", "code_block"):
            lines.extend(token.content.rstrip("\n").split("\n"))
            lines.append("")
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            lines.append(" | ".join(row or []))
            row = None
        elif kind in ("table_close", "hr", "blockquote_close"):
            lines.append("")
    text = "\n".join(line.rstrip() for line in lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
