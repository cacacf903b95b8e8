"""Reading content: article pages, revision history, diffs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from expertise import answer_copy
from expertise.sheets import page_sheet, submission
from kb.accounts import groups as group_service
from kb.content import access, audiences, drafts, removal
from kb.content import service as content
from kb.content.block_diff import block_diff
from kb.content.diff import inline_diff
from kb.content.models import EntryKind
from kb.content.sheets import entry_sheet, entry_sheets, promoted_from, users_by_id
from kb.errors import DomainError, ValidationFailed
from web.deps import EntryDep, PageUser, RevisionDep, SessionDep
from web.forms import form_errors
from web.urls import entry_url, no_store
from web.templating import render
from workflow.models import Action

router = APIRouter(include_in_schema=False)


@router.get("/articles")
def articles(request: Request, session: SessionDep, user: PageUser, deleted: bool = False):
    entries = content.list_articles(session=session, actor=user)
    views = entry_sheets(session=session, actor=user, entries=entries)
    mine = [v for v in views if access.is_author(user, v.entry)]
    others = [v for v in views if not access.is_author(user, v.entry)]
    context = {
        "mine": mine,
        "others": others,
        "unsaved": drafts.my_new_drafts(session=session, actor=user),
        "can_write": access.can_write_articles(user),
        "flashes": [{"kind": "success", "text": "The draft is deleted: nobody sees it any more."}] if deleted else [],
    }
    return no_store(render(request, "articles.html", context))


AGAIN = {
    "article": "This article was already created: here it is.",
    "promotion": "This answer was already turned into an article: here it is.",
}

AUTHOR_DONE = {
    Action.submit: "Submitted for review.",
    Action.resubmit: "Submitted for review again.",
    Action.withdraw: "Withdrawn from review: it is a draft again, and you can keep editing it.",
}


@router.get("/articles/{entry_id}")
def article(request: Request, session: SessionDep, user: PageUser, entry_id: int, saved: bool = False,
            flagged: bool = False, again: Literal["article", "promotion"] | None = None,
            done: Action | None = None, discarded: bool = False, audience: bool = False):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id, kind=EntryKind.article)
    view = page_sheet(session=session, actor=user, entry=entry, with_actions=True)
    source = promoted_from(session=session, entry=entry)
    promoted = {"url": entry_url(source[0]), "author": source[1]} if source else None
    flashes = [{"kind": "success", "text": "Saved as a new revision."}] if saved else []
    if flagged:
        flashes.append({"kind": "success", "text": "Thank you: the topic experts have been told about your flag."})
    if again:
        flashes.append({"kind": "info", "text": AGAIN[again]})
    if done in AUTHOR_DONE:
        flashes.append({"kind": "success", "text": AUTHOR_DONE[done]})
    if discarded:
        flashes.append({"kind": "success", "text": "The draft is discarded: this is the version from before it."})
    discardable, deletable = removal.offers(session=session, actor=user, entry=entry)
    chosen = audiences.audience_of(session=session, entry=entry)
    if audience:
        flashes.append({"kind": "success", "text": f"Saved: visible to {audiences.describe(entry, chosen)}."})
    can_set = audiences.can_set_audience(user, entry)
    audience_view = {"label": audiences.describe(entry, chosen), "limited": entry.limited_to_groups,
                     "public": entry.public,
                     "can_set": can_set, "chosen": {g.id for g in chosen},
                     "groups": group_service.list_groups(session=session) if can_set else []}
    # "Copy answer" when the page shows the certified text (what it copies), with the heading of
    # the part meant for the customer when the article marks one.
    copy_answer = ({"heading": answer_copy.customer_heading(view.revision.body)}
                   if view.revision and view.revision.id == entry.certified_revision_id else None)
    context = {"view": view, "promoted": promoted, "flashes": flashes, "copy_answer": copy_answer,
               "submission": submission(session=session, actor=user, entry=entry),
               "discardable": discardable, "deletable": deletable, "audience": audience_view}
    # Back after "Submit for review" must ask again, not show buttons for a state that has passed.
    return no_store(render(request, "article.html", context))


@router.get("/entries/{entry_id}")
def entry_redirect(entry: EntryDep, q: str = ""):
    # ``q`` (from a search result) travels on, so the page can mark the query's words.
    return RedirectResponse(entry_url(entry, f"q={quote(q[:500])}" if q else ""), status_code=303)


@router.get("/entries/{entry_id}/history")
def history(request: Request, session: SessionDep, user: PageUser, entry: EntryDep):
    revisions = content.list_revisions(session=session, actor=user, entry=entry)
    authors = users_by_id(session=session, ids=[r.author_id for r in revisions])
    context = {"entry": entry, "revisions": revisions, "authors": authors, "entry_url": entry_url(entry),
               "title": revisions[0].title if revisions else ""}
    return render(request, "history.html", context)


@router.get("/revisions/{revision_id}")
def revision_page(request: Request, session: SessionDep, user: PageUser, target: RevisionDep):
    entry, revision = target
    view = entry_sheet(session=session, actor=user, entry=entry, revision=revision)
    return render(request, "revision.html", {"view": view, "entry_url": entry_url(entry)})


@router.get("/entries/{entry_id}/diff")
def diff_page(request: Request, session: SessionDep, user: PageUser, entry_id: int, old: int, new: int,
              mode: Literal["inline", "side"] = "inline"):
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
        "body": block_diff(older.body, newer.body),
    }
    return render(request, "diff.html", context)


# --- throwing drafts away: a confirmation page, then a POST that redirects with a note -------------


def _confirm(request: Request, *, heading: str, explanation: str, action_url: str, button: str, button_action: str,
             back_url: str, title: str, errors: dict | None = None, status_code: int = 200):
    context = {"heading": heading, "explanation": explanation, "action_url": action_url, "button": button,
               "button_action": button_action, "back_url": back_url, "title": title, "errors": errors or {}}
    return no_store(render(request, "confirm_removal.html", context, status_code=status_code))


def _discard_page(request, session, user, entry, revision, *, errors=None, status_code=200):
    refusal = None if errors else removal.discard_refusal(session=session, actor=user, entry=entry, revision=revision)
    previous = removal.previous_revision(session=session, revision=revision)
    back = f"revision {previous.number}" if previous else "the version before"
    return _confirm(
        request, heading=f"Discard revision {revision.number} of “{revision.title}”?",
        explanation=f"Your changes in this draft are thrown away and the {entry.kind} goes back to {back}. "
                    "The audit trail keeps a note that you discarded it.",
        action_url=f"/revisions/{revision.id}/discard", button="Discard this draft", button_action="discard",
        back_url=entry_url(entry), title=revision.title,
        errors=errors or (form_errors(refusal) if refusal else None),
        status_code=status_code if errors or not refusal else refusal.status_code)


@router.get("/revisions/{revision_id}/discard")
def discard_confirm(request: Request, session: SessionDep, user: PageUser, target: RevisionDep):
    entry, revision = target
    return _discard_page(request, session, user, entry, revision)


@router.post("/revisions/{revision_id}/discard")
def discard(request: Request, session: SessionDep, user: PageUser, target: RevisionDep):
    entry, revision = target
    try:
        with session.begin_nested():
            removal.discard_draft(session=session, actor=user, entry=entry, revision=revision)
    except DomainError as exc:  # a page from before a change (Back, another tab): say what happened
        session.refresh(revision)
        return _discard_page(request, session, user, entry, revision, errors=form_errors(exc),
                             status_code=exc.status_code)
    return RedirectResponse(entry_url(entry, "discarded=1"), status_code=303)


def _delete_page(request, session, user, entry, *, errors=None, status_code=200):
    refusal = None if errors else removal.delete_refusal(session=session, actor=user, entry=entry)
    view = content.visible_revision(session=session, actor=user, entry=entry)
    title = view.title if view else ""
    return _confirm(
        request, heading=f"Delete the draft “{title}”?",
        explanation="The draft and all its versions disappear for everyone: from your articles, search and every "
                    "link to it. The audit trail keeps a note that you deleted it.",
        action_url=f"/entries/{entry.id}/delete", button="Delete this draft", button_action="delete",
        back_url=entry_url(entry), title=title,
        errors=errors or (form_errors(refusal) if refusal else None),
        status_code=status_code if errors or not refusal else refusal.status_code)


@router.get("/entries/{entry_id}/delete")
def delete_confirm(request: Request, session: SessionDep, user: PageUser, entry: EntryDep):
    return _delete_page(request, session, user, entry)


@router.post("/entries/{entry_id}/delete")
def delete(request: Request, session: SessionDep, user: PageUser, entry: EntryDep):
    try:
        with session.begin_nested():
            removal.delete_draft_entry(session=session, actor=user, entry=entry)
    except DomainError as exc:
        return _delete_page(request, session, user, entry, errors=form_errors(exc), status_code=exc.status_code)
    return RedirectResponse("/articles?deleted=1", status_code=303)
