"""Review: the reviewer dashboard, the review page, workflow buttons and the audit history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.sheets import entry_sheet
from kb.errors import DomainError, Forbidden, InvalidTransition, NotFound
from expertise import routing
from expertise.sheets import routed_review_sheet
from web.deps import EntryDep, PageUser, SessionDep
from web.forms import submit_form
from web.urls import entry_url
from web.templating import render
from workflow import actions, audit, dashboard
from workflow import review_sheet as review_sheets
from workflow import service as workflow
from workflow.models import Action

router = APIRouter(include_in_schema=False)


@router.get("/review")
def review_dashboard(request: Request, session: SessionDep, user: PageUser, done: Action | None = None):
    if not access.is_reviewer(user):
        raise Forbidden("The review dashboard is for experts and administrators.")
    board = dashboard.build(session=session, actor=user)
    flashes = [{"kind": "success", "text": actions.done_message(done)}] if done else []
    return render(request, "review_dashboard.html", {"board": board, "counts": board.counts(), "flashes": flashes,
                                                     "entry_url": entry_url,
                                                     "assigned": routing.assigned_to(session=session, actor=user)})


# Why a link led to another revision than the one it names (``review_sheet.replacement``).
REPLACED = {
    "replaced": "This version was replaced by a newer one; here is the current state.",
    "withdrawn": "This version was withdrawn from review; here is the current state.",
    "rejected": "This version was rejected; here is the current state.",
    "discarded": "Its author discarded this version; here is the current state.",
}


def _review_page(request, session, user: User, revision_id: int, *, errors=None, comment="", status_code=200,
                 flashes=None, against: int | None = None):
    sheet = routed_review_sheet(session=session, actor=user, revision_id=revision_id, against=against)
    context = {
        "view": sheet.view,
        "compare": sheet.compare,
        "comparisons": sheet.comparisons,
        "diff": sheet.diff,
        "title_diff": sheet.title_diff,
        "actions": sheet.actions,
        "reviews": sheet.reviews,
        "events": sheet.events,
        "entry_url": entry_url(sheet.entry),
        "errors": errors or {},
        "comment": comment,
        "flashes": flashes or [],
        "suggestions": sheet.suggestions,
        "assignees": sheet.assignees,
    }
    return render(request, "review.html", context, status_code=status_code)


@router.get("/review/{revision_id}")
def review_page(request: Request, session: SessionDep, user: PageUser, revision_id: int,
                done: Action | None = None, assigned: bool = False, against: int | None = None,
                was: Literal["replaced", "withdrawn", "rejected", "discarded"] | None = None):
    flashes = [{"kind": "success", "text": actions.done_message(done)}] if done else []
    if assigned:
        flashes.append({"kind": "success", "text": "Reviewer assigned; they have been told."})
    if was:
        flashes.append({"kind": "info", "text": REPLACED[was]})
    try:
        return _review_page(request, session, user, revision_id, flashes=flashes, against=against)
    except NotFound:
        # A stale link (a notification about a revision since replaced): the entry's current state.
        moved = review_sheets.replacement(session=session, actor=user, revision_id=revision_id)
        return RedirectResponse(f"/review/{moved.revision.id}?was={moved.reason}", status_code=303)


# Moving one's own revision in or out of review: the author lands on the entry's page, which reads
# as theirs ("submitted for review on ..."), not on a reviewer's decision panel.
AUTHORING = frozenset({Action.submit, Action.resubmit, Action.withdraw})


@router.post("/revisions/{revision_id}/{action}")
def take_action(request: Request, session: SessionDep, user: PageUser, revision_id: int, action: Action,
                comment: Annotated[str, Form(max_length=5000)] = ""):
    try:
        with session.begin_nested():
            revision = workflow.transition(session=session, actor=user, revision_id=revision_id, action=action,
                                           comment=comment)
    except InvalidTransition as exc:
        if action in AUTHORING:  # a page from before the move (Back, another tab): say so, link to now
            return _stale_action(request, session, user, revision_id, action, exc)
        return _review_page(request, session, user, revision_id, errors={exc.field or "form": exc.message},
                            comment=comment, status_code=exc.status_code)
    except DomainError as exc:
        return _review_page(request, session, user, revision_id, errors={exc.field or "form": exc.message},
                            comment=comment, status_code=exc.status_code)
    entry, _, still_visible = workflow.after_transition(session=session, actor=user, revision=revision)
    if action in AUTHORING:
        return RedirectResponse(entry_url(entry, f"done={action.value}"), status_code=303)
    # A reviewer may not see a revision they rejected any more: back to the dashboard, not a 404.
    landing = f"/review/{revision.id}" if still_visible or not access.is_reviewer(user) else "/review"
    return RedirectResponse(f"{landing}?done={action.value}", status_code=303)


STALE_MESSAGES = {
    "in_review": "This revision was already submitted for review.",
    "approved": "This revision was already submitted for review, and a reviewer has approved it.",
    "certified": "This revision has already been certified.",
    "withdrawn": "This revision was already withdrawn from review.",
    "changes_requested": "A reviewer has asked for changes to this revision.",
    "rejected": "This revision was rejected.",
    "superseded": "This revision has since been replaced by a newer certified one.",
    "draft": "This revision is a draft that has not been submitted.",
}


def _stale_action(request, session, user: User, revision_id: int, action: Action, exc: InvalidTransition):
    """409 with what happened meanwhile and a link to the entry as it is now, not an error string."""
    entry, revision = content.get_revision(session=session, actor=user, revision_id=revision_id)
    context = {
        "action": actions.label(action),
        "message": STALE_MESSAGES.get(revision.state, exc.message),
        "revision": revision,
        "entry_url": entry_url(entry),
    }
    response = render(request, "stale_action.html", context, status_code=409)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/review/{revision_id}/assign")
def assign_reviewer(request: Request, session: SessionDep, user: PageUser, revision_id: int,
                    reviewer_id: Annotated[int, Form()]):
    return submit_form(
        lambda: routing.assign_reviewer(session=session, actor=user, revision_id=revision_id, reviewer_id=reviewer_id),
        done=lambda _: RedirectResponse(f"/review/{revision_id}?assigned=1", status_code=303), session=session,
        show_form=lambda errors, status: _review_page(request, session, user, revision_id, errors=errors,
                                                      status_code=status))


@router.get("/entries/{entry_id}/audit")
def audit_history(request: Request, session: SessionDep, user: PageUser, entry: EntryDep):
    events = audit.visible_history_with_actors(session=session, actor=user, entry=entry)
    revisions = {r.id: r for r in content.list_revisions(session=session, actor=user, entry=entry)}
    view = entry_sheet(session=session, actor=user, entry=entry)
    return render(request, "audit.html", {"view": view, "events": events, "revisions": revisions,
                                          "entry_url": entry_url(entry)})
