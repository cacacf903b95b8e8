"""The URLs of pages: the one URL of an entry (what a page shows about entries is read by the
domain's sheets: ``kb.content.sheets``, ``workflow.sheets``, ``expertise.sheets``)."""

from __future__ import annotations

from starlette.responses import Response

from kb.content.models import Entry, EntryKind


def entry_url(entry: Entry, query: str = "") -> str:
    """The page that shows an entry (answers live in their question's thread)."""
    suffix = f"?{query}" if query else ""
    if entry.kind == EntryKind.article.value:
        return f"/articles/{entry.id}{suffix}"
    if entry.kind == EntryKind.question.value:
        return f"/questions/{entry.id}{suffix}"
    return f"/questions/{entry.parent_id}{suffix}#answer-{entry.id}"


def no_store(response: Response) -> Response:
    """Pages whose buttons depend on a state that changes (the editor, an entry's workflow): the
    browser keeps no copy, so Back asks the server again instead of showing stale buttons."""
    response.headers["Cache-Control"] = "no-store"
    return response
