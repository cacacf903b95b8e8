"""Reading content: article pages, revision history, diffs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from kb.accounts.models import User
from kb.content import access, drafts
from kb.content import service as content
from kb.content.diff import inline_diff, side_by_side
from kb.content.models import EntryKind
from kb.errors import ValidationFailed
from web.deps import PageUser, SessionDep
from web.routes.content_pages import entry_url, entry_view
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/articles")
def articles(request: Request, session: SessionDep, user: PageUser):
    entries = content.list_articles(session=session, actor=user)
    views = [entry_view(session, user, e) for e in entries]
    mine = [v for v in views if v.entry.author_id == user.id]
    others = [v for v in views if v.entry.author_id != user.id]
    context = {
        "mine": mine,
        "others": others,
        "unsaved": drafts.my_new_drafts(session=session, actor=user),
        "can_write": access.can_write_articles(user),
    }
    return render(request, "articles.html", context)


@router.get("/articles/{entry_id}")
def article(request: Request, session: SessionDep, user: PageUser, entry_id: int, saved: bool = False,
            flagged: bool = False):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id, kind=EntryKind.article)
    view = entry_view(session, user, entry, with_actions=True)
    promoted = None
    if entry.promoted_from_id:
        answer = session.get(type(entry), entry.promoted_from_id)
        promoted = {"url": entry_url(answer), "author": session.get(User, answer.author_id)}
    flashes = [{"kind": "success", "text": "Saved as a new revision."}] if saved else []
    if flagged:
        flashes.append({"kind": "success", "text": "Thank you: the topic experts have been told about your flag."})
    return render(request, "article.html", {"view": view, "promoted": promoted, "flashes": flashes})


@router.get("/entries/{entry_id}")
def entry_redirect(session: SessionDep, user: PageUser, entry_id: int, q: str = ""):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    # ``q`` (from a search result) travels on, so the page can mark the query's words.
    return RedirectResponse(entry_url(entry, f"q={quote(q[:500])}" if q else ""), status_code=303)


@router.get("/entries/{entry_id}/history")
def history(request: Request, session: SessionDep, user: PageUser, entry_id: int):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    revisions = content.list_revisions(session=session, actor=user, entry=entry)
    authors = {r.author_id: session.get(User, r.author_id) for r in revisions}
    context = {"entry": entry, "revisions": revisions, "authors": authors, "entry_url": entry_url(entry),
               "title": revisions[0].title if revisions else ""}
    return render(request, "history.html", context)


@router.get("/revisions/{revision_id}")
def revision_page(request: Request, session: SessionDep, user: PageUser, revision_id: int):
    entry, revision = content.get_revision(session=session, actor=user, revision_id=revision_id)
    view = entry_view(session, user, entry, revision)
    return render(request, "revision.html", {"view": view, "entry_url": entry_url(entry)})


@router.get("/entries/{entry_id}/diff")
def diff_page(request: Request, session: SessionDep, user: PageUser, entry_id: int, old: int, new: int,
              mode: Literal["inline", "side"] = "side"):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    _, older = content.get_revision(session=session, actor=user, revision_id=old)
    _, newer = content.get_revision(session=session, actor=user, revision_id=new)
    if older.entry_id != entry.id or newer.entry_id != entry.id:
        raise ValidationFailed("Both revisions must belong to this entry.")
    tags = content.tags_of(session=session, revision_ids=[older.id, newer.id])
    context = {
        "entry": entry, "older": older, "newer": newer, "mode": mode, "entry_url": entry_url(entry),
        "title_inline": inline_diff(older.title, newer.title),
        "tags_inline": inline_diff(", ".join(tags[older.id]), ", ".join(tags[newer.id])),
        "body_inline": inline_diff(older.body, newer.body) if mode == "inline" else None,
        "body_side": side_by_side(older.body, newer.body) if mode == "side" else None,
    }
    return render(request, "diff.html", context)
