"""Review: the reviewer dashboard, the review page, workflow buttons and the audit history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select

from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.diff import side_by_side
from kb.content.models import Revision
from kb.errors import DomainError, Forbidden
from expertise import routing
from web.deps import PageUser, SessionDep
from web.routes.content_pages import entry_url, entry_view
from web.templating import render
from workflow import audit, dashboard
from workflow import service as workflow
from workflow.models import Action, Review

router = APIRouter(include_in_schema=False)
ACTION_LABELS = {
    Action.submit: "Submit for review", Action.resubmit: "Resubmit", Action.withdraw: "Withdraw",
    Action.approve: "Approve", Action.request_changes: "Request changes", Action.reject: "Reject",
    Action.certify: "Certify",
}


@router.get("/review")
def review_dashboard(request: Request, session: SessionDep, user: PageUser, done: Action | None = None):
    if not access.is_reviewer(user):
        raise Forbidden("The review dashboard is for experts and administrators.")
    board = dashboard.build(session=session, actor=user)
    flashes = [{"kind": "success", "text": f"Done: {ACTION_LABELS[done].lower()}."}] if done else []
    return render(request, "review_dashboard.html", {"board": board, "counts": board.counts(), "flashes": flashes,
                                                     "entry_url": entry_url,
                                                     "assigned": routing.assigned_to(session=session, actor=user)})


def _review_page(request, session, user: User, revision_id: int, *, errors=None, comment="", status_code=200,
                 flashes=None):
    entry, revision = content.get_revision(session=session, actor=user, revision_id=revision_id)
    view = entry_view(session, user, entry, revision)
    # Reviewers compare with what agents see now (the certified revision), else with the revision it
    # was edited from, as far back as this user may see or reviewed (never a private or rejected draft).
    certified = session.get(Revision, entry.certified_revision_id) if entry.certified_revision_id else None
    if certified is not None and certified.id != revision.id and access.can_view_revision(user, entry, certified):
        compare = certified
    else:
        reviewed = frozenset(session.exec(
            select(Review.revision_id).join(Revision, Revision.id == Review.revision_id)
            .where(Review.reviewer_id == user.id, Revision.entry_id == entry.id)))
        compare = content.visible_ancestor(session=session, actor=user, entry=entry, revision=revision,
                                           reviewed_ids=reviewed)
    context = {
        "view": view,
        "compare": compare,
        "diff": side_by_side(compare.body, revision.body) if compare else None,
        "actions": [(a, ACTION_LABELS[a]) for a in workflow.actions_for(session, actor=user, entry=entry,
                                                                       revision=revision)],
        "reviews": [(r, session.get(User, r.reviewer_id)) for r in
                    session.exec(select(Review).where(Review.revision_id == revision.id))],
        "events": [(e, session.get(User, e.actor_id) if e.actor_id else None)
                   for e in audit.visible_history(session=session, actor=user, entry=entry)
                   if e.revision_id == revision.id],
        "entry_url": entry_url(entry),
        "errors": errors or {},
        "comment": comment,
        "flashes": flashes or [],
        # Who should review it: shown to the author, experts and admins while it is in review.
        "suggestions": routing.suggest_reviewers(session=session, revision=revision)
        if routing.can_assign(user, entry, revision) else None,
        "assignees": routing.assignees(session, revision.id),
    }
    return render(request, "review.html", context, status_code=status_code)


@router.get("/review/{revision_id}")
def review_page(request: Request, session: SessionDep, user: PageUser, revision_id: int,
                done: Action | None = None, assigned: bool = False):
    flashes = [{"kind": "success", "text": f"Done: {ACTION_LABELS[done].lower()}."}] if done else []
    if assigned:
        flashes.append({"kind": "success", "text": "Reviewer assigned; they have been told."})
    return _review_page(request, session, user, revision_id, flashes=flashes)


@router.post("/revisions/{revision_id}/{action}")
def take_action(request: Request, session: SessionDep, user: PageUser, revision_id: int, action: Action,
                comment: Annotated[str, Form(max_length=5000)] = ""):
    try:
        with session.begin_nested():
            revision = workflow.transition(session=session, actor=user, revision_id=revision_id, action=action,
                                           comment=comment)
    except DomainError as exc:
        return _review_page(request, session, user, revision_id, errors={exc.field or "form": exc.message},
                            comment=comment, status_code=exc.status_code)
    _, _, still_visible = workflow.after_transition(session, actor=user, revision=revision)
    # A reviewer may not see a revision they rejected any more: back to the dashboard, not a 404.
    landing = f"/review/{revision.id}" if still_visible or not access.is_reviewer(user) else "/review"
    return RedirectResponse(f"{landing}?done={action.value}", status_code=303)


@router.post("/review/{revision_id}/assign")
def assign_reviewer(request: Request, session: SessionDep, user: PageUser, revision_id: int,
                    reviewer_id: Annotated[int, Form()]):
    try:
        with session.begin_nested():
            routing.assign_reviewer(session=session, actor=user, revision_id=revision_id, reviewer_id=reviewer_id)
    except DomainError as exc:
        return _review_page(request, session, user, revision_id, errors={exc.field or "form": exc.message},
                            status_code=exc.status_code)
    return RedirectResponse(f"/review/{revision_id}?assigned=1", status_code=303)


@router.get("/entries/{entry_id}/audit")
def audit_history(request: Request, session: SessionDep, user: PageUser, entry_id: int):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    events = [(e, session.get(User, e.actor_id) if e.actor_id else None)
              for e in audit.visible_history(session=session, actor=user, entry=entry)]
    revisions = {r.id: r for r in content.list_revisions(session=session, actor=user, entry=entry)}
    view = entry_view(session, user, entry)
    return render(request, "audit.html", {"view": view, "events": events, "revisions": revisions,
                                          "entry_url": entry_url(entry)})
