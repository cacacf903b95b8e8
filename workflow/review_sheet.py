"""Everything the review page shows about a revision, read in a bounded number of queries however
many reviews and audit events it has: the entry sheet, the revisions it may be compared with and
the diff against the chosen one, the viewer's actions, the reviews with their reviewers, and the
revision's audit events (those the viewer may know of) with their actors."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.block_diff import BlockDiff, block_diff
from kb.content.diff import inline_diff
from kb.content.models import Entry, Revision, RevisionState
from kb.errors import NotFound
from workflow import audit, service
from workflow.actions import AvailableAction
from workflow.models import Action, Review, WorkflowEvent
from workflow.sheets import WorkflowSheet, workflow_sheet


@dataclass(frozen=True)
class Comparison:
    """A revision the review page can show the changes against, and why it is offered."""

    key: Literal["last-review", "certified", "previous"]
    label: str  # "Since your last review (revision 3)"
    revision: Revision


@dataclass
class ReviewSheet:
    view: WorkflowSheet
    # What the reviewer compares with (None: nothing they may see came before).
    compare: Revision | None
    # What the viewer may do to this revision.
    actions: list[AvailableAction]
    reviews: list[tuple[Review, User]]
    events: list[tuple[WorkflowEvent, User | None]]

    @property
    def entry(self) -> Entry:
        return self.view.entry

    @property
    def revision(self) -> Revision:
        return self.view.revision

    # Every revision the viewer may compare with (``compare`` is one of them), most useful first.
    comparisons: list[Comparison] = field(default_factory=list)

    @cached_property
    def diff(self) -> BlockDiff | None:
        return block_diff(self.compare.body, self.revision.body) if self.compare else None

    @cached_property
    def title_diff(self) -> str | None:
        """The titles with words marked, when the title changed."""
        if self.compare is None or self.compare.title == self.revision.title:
            return None
        return inline_diff(self.compare.title, self.revision.title)


def review_sheet(*, session: Session, actor: User, revision_id: int, against: int | None = None) -> ReviewSheet:
    """The review page of ``revision_id`` as ``actor`` sees it; NotFound when they may not open it.
    ``against``: the revision to show the changes against, one of the comparisons offered (others
    fall back to the first offered, so no other revision can be read through it)."""
    entry, revision = content.get_revision(session=session, actor=actor, revision_id=revision_id)
    offered = comparisons(session=session, actor=actor, entry=entry, revision=revision)
    chosen = next((c for c in offered if c.revision.id == against), offered[0] if offered else None)
    return ReviewSheet(
        view=workflow_sheet(session=session, actor=actor, entry=entry, revision=revision),
        compare=chosen.revision if chosen else None,
        comparisons=offered,
        actions=service.available_actions_for(session=session, actor=actor, entry=entry, revision=revision),
        reviews=list(session.exec(select(Review, User).join(User, User.id == Review.reviewer_id)
                                  .where(Review.revision_id == revision.id).order_by(Review.id))),
        events=audit.visible_history_with_actors(session=session, actor=actor, entry=entry, revision_id=revision.id),
    )


def comparisons(*, session: Session, actor: User, entry: Entry, revision: Revision) -> list[Comparison]:
    """What the viewer may compare ``revision`` with: the last earlier revision they reviewed (what
    they saw when they decided), and what agents see now (the certified revision); when neither
    exists, the revision it was edited from, as far back as this user may see or reviewed (never a
    private or rejected draft of someone else)."""
    offered: list[Comparison] = []
    reviewed = list(session.exec(
        select(Revision).join(Review, Review.revision_id == Revision.id)
        .where(Review.reviewer_id == actor.id, Revision.entry_id == entry.id)
        .order_by(Revision.number.desc())))
    last = next((r for r in reviewed if r.number < revision.number), None)
    if last is not None:
        offered.append(Comparison("last-review", f"Since your last review (revision {last.number})", last))
    certified = session.get(Revision, entry.certified_revision_id) if entry.certified_revision_id else None
    if (certified is not None and certified.id != revision.id and access.can_view_revision(actor, entry, certified)
            and (last is None or certified.id != last.id)):
        offered.append(Comparison("certified", f"Since certified (revision {certified.number})", certified))
    if not offered:
        previous = content.visible_ancestor(session=session, actor=actor, entry=entry, revision=revision,
                                            reviewed_ids=frozenset(r.id for r in reviewed))
        if previous is not None:
            offered.append(Comparison("previous", f"Since the previous version (revision {previous.number})",
                                      previous))
    return offered


# A revision in one of these states was open to reviewers once (it went through review), so a
# reviewer may still hold a link to it: a notification, an email, a bookmark.
_CLOSED_AFTER_REVIEW = frozenset({RevisionState.withdrawn.value, RevisionState.superseded.value,
                                  RevisionState.rejected.value, RevisionState.discarded.value})


@dataclass(frozen=True)
class Replacement:
    """Where a stale link to a revision the viewer may no longer open leads instead."""

    revision: Revision  # the entry's current state as the viewer sees it
    reason: Literal["replaced", "withdrawn", "rejected", "discarded"]


def replacement(*, session: Session, actor: User, revision_id: int) -> Replacement:
    """For a link to a revision ``actor`` may no longer open because it left review (withdrawn,
    superseded, rejected): the entry's current state, when they may see the entry. NotFound in every
    other case, as before: the link reveals nothing the visibility rule would not show them."""
    revision = session.get(Revision, revision_id)
    if revision is None or revision.state not in _CLOSED_AFTER_REVIEW or not access.is_reviewer(actor):
        raise NotFound("That revision does not exist.")
    if revision.state == RevisionState.discarded.value and not _was_submitted(session, revision):
        raise NotFound("That revision does not exist.")  # a draft nobody reviewed: no link to it exists
    entry = content.get_entry(session=session, actor=actor, entry_id=revision.entry_id)
    current = content.visible_revision(session=session, actor=actor, entry=entry)
    if current is None or not access.can_view_revision(actor, entry, current):
        raise NotFound("That revision does not exist.")
    if revision.state == RevisionState.discarded.value:
        return Replacement(current, "discarded")
    if current.number > revision.number:
        return Replacement(current, "replaced")
    return Replacement(current, "rejected" if revision.state == RevisionState.rejected.value else "withdrawn")


def _was_submitted(session: Session, revision: Revision) -> bool:
    return session.exec(select(WorkflowEvent.id).where(WorkflowEvent.revision_id == revision.id,
                                                       WorkflowEvent.action == Action.submit.value)).first() is not None


def open_change_requests(*, session: Session, actor: User, entry: Entry) -> list[tuple[Review, User, Revision]]:
    """The changes reviewers asked for and the author has not answered yet: the request-changes
    reviews of the entry's revisions that are still "changes requested" (submitting a new revision
    withdraws them), those the actor may see, oldest first."""
    rows = session.exec(
        select(Review, User, Revision).join(User, User.id == Review.reviewer_id)
        .join(Revision, Revision.id == Review.revision_id)
        .where(Revision.entry_id == entry.id, Revision.state == RevisionState.changes_requested.value,
               Review.decision == Action.request_changes.value)
        .order_by(Review.created_at, Review.id))
    return [(review, reviewer, revision) for review, reviewer, revision in rows
            if access.can_view_revision(actor, entry, revision)]
