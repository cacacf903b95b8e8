"""The sheets pages show, with every layer's facts: the entry, its certification and workflow
actions (``workflow.sheets``), and its rating; and the review page with who should review.

Each part is read in batch, so a list of entries costs the same few queries as one entry (the
workflow buttons, per entry, are only asked for by single-entry pages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from sqlmodel import Session

from kb.accounts.models import User
from kb.content.models import Entry, Revision, RevisionState
from expertise import ratings, routing
from expertise.models import ReviewAssignment
from workflow import audit
from workflow.models import Action
from workflow.transitions import is_owner
from workflow.review_sheet import ReviewSheet, review_sheet
from workflow.sheets import WorkflowSheet, workflow_sheets


@dataclass
class PageSheet(WorkflowSheet):
    # Votes and reuse of an article or answer (pages with actions only; None for questions).
    rating: ratings.RatingSummary | None = None


def page_sheets(*, session: Session, actor: User, entries: Iterable[Entry],
                revisions: Mapping[int, Revision] | None = None, with_actions: bool = False) -> list[PageSheet]:
    """Entry sheets for pages; ``with_actions`` adds the workflow buttons and the rating panel."""
    sheets = workflow_sheets(session=session, actor=actor, entries=entries, revisions=revisions,
                             with_actions=with_actions)
    rated = [(s.entry, s.revision) for s in sheets if s.entry.kind in ratings.RATED_KINDS] if with_actions else []
    summaries = ratings.rating_views(session=session, actor=actor, shown=rated) if rated else {}
    return [PageSheet(**s.parts(), rating=summaries.get(s.entry.id)) for s in sheets]


def page_sheet(*, session: Session, actor: User, entry: Entry, revision: Revision | None = None,
               with_actions: bool = False) -> PageSheet:
    return page_sheets(session=session, actor=actor, entries=[entry],
                       revisions={entry.id: revision} if revision else None, with_actions=with_actions)[0]


@dataclass
class RoutedReviewSheet(ReviewSheet):
    # Who should review it: shown to the author, experts and admins while it is in review (else None).
    suggestions: list[routing.ReviewerSuggestion] | None = None
    assignees: list[tuple[ReviewAssignment, User]] | None = None


def routed_review_sheet(*, session: Session, actor: User, revision_id: int,
                        against: int | None = None) -> RoutedReviewSheet:
    """``workflow.review_sheet`` with the reviewers assigned and suggested."""
    sheet = review_sheet(session=session, actor=actor, revision_id=revision_id, against=against)
    entry, revision = sheet.entry, sheet.revision
    return RoutedReviewSheet(
        **{f.name: getattr(sheet, f.name) for f in fields(sheet)},
        suggestions=routing.suggest_reviewers(session=session, revision=revision)
        if routing.can_assign(actor, entry, revision) else None,
        assignees=routing.assignees(session=session, revision_id=revision.id),
    )


@dataclass(frozen=True)
class Submission:
    """What an author sees of their revision while it is in review: when they submitted it and who
    was asked to review it (the panel of the entry page, instead of a reviewer's buttons)."""

    revision: Revision
    submitted_at: datetime | None
    reviewers: list[User]


SUBMITTED_STATES = frozenset({RevisionState.in_review.value, RevisionState.approved.value})


def submission(*, session: Session, actor: User, entry: Entry) -> Submission | None:
    """The entry's latest revision when it is in review and ``actor`` wrote it (or the entry); else None."""
    revision = session.get(Revision, entry.latest_revision_id) if entry.latest_revision_id else None
    if revision is None or revision.state not in SUBMITTED_STATES or not is_owner(actor, entry, revision):
        return None
    submitted = [e.created_at for e in audit.history(session=session, entry_id=entry.id)
                 if e.revision_id == revision.id and e.action in (Action.submit.value, Action.resubmit.value)]
    reviewers = [user for _, user in routing.assignees(session=session, revision_id=revision.id)]
    return Submission(revision=revision, submitted_at=submitted[-1] if submitted else None, reviewers=reviewers)
