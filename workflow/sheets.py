"""Entry sheets with the workflow's facts: the live certification and who certified, and (for a
single-entry page) the actions the viewer may take on the latest revision.

Certifications and certifiers of any number of entries are read in one query; the actions are
decided per entry by ``service.available_actions_for`` (the one rule), so only pages that draw the buttons
of a few entries ask for them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import forum
from kb.content import service as content
from kb.content.models import Entry, Revision
from kb.content.sheets import EntrySheet, entry_sheets
from workflow import service
from workflow.actions import AvailableAction
from workflow.models import Certification


@dataclass
class WorkflowSheet(EntrySheet):
    certification: Certification | None = None
    certifier: User | None = None
    # Workflow actions this user may take on the latest revision (drawn as buttons).
    actions: list[AvailableAction] = field(default_factory=list)


def workflow_sheets(*, session: Session, actor: User, entries: Iterable[Entry],
                    revisions: Mapping[int, Revision] | None = None,
                    with_actions: bool = False) -> list[WorkflowSheet]:
    """``kb.content.sheets.entry_sheets`` plus certification and certifier (one query more);
    ``with_actions`` adds the workflow buttons, a few queries per entry."""
    sheets = entry_sheets(session=session, actor=actor, entries=entries, revisions=revisions)
    certified = certifications(session=session, entry_ids=[s.entry.id for s in sheets])
    result = []
    for sheet in sheets:
        certification, certifier = certified.get(sheet.entry.id, (None, None))
        result.append(WorkflowSheet(**sheet.parts(), certification=certification, certifier=certifier,
                                    actions=_actions(session, actor, sheet.entry) if with_actions else []))
    return result


def workflow_sheet(*, session: Session, actor: User, entry: Entry, revision: Revision | None = None,
                   with_actions: bool = False) -> WorkflowSheet:
    return workflow_sheets(session=session, actor=actor, entries=[entry],
                           revisions={entry.id: revision} if revision else None, with_actions=with_actions)[0]


@dataclass
class FrontPage:
    """What the home page lists: recently certified articles and the newest unanswered questions."""

    certified: list[WorkflowSheet]
    unanswered: list[EntrySheet]


def front_page(*, session: Session, actor: User, certified: int = 8, unanswered: int = 5) -> FrontPage:
    # The most recently active articles the actor may see, certified ones only (an author's own
    # drafts are listed among them, hence the wider window).
    articles = [e for e in content.list_articles(session=session, actor=actor, limit=50)
                if e.certified_revision_id][:certified]
    questions = forum.list_questions(session=session, status="unanswered", order="newest", limit=unanswered)
    return FrontPage(certified=workflow_sheets(session=session, actor=actor, entries=articles),
                     unanswered=entry_sheets(session=session, actor=actor, entries=questions.questions))


def certifications(*, session: Session, entry_ids: list[int]) -> dict[int, tuple[Certification, User]]:
    """The live certification and its certifier per entry (entries never certified are left out),
    in one query."""
    if not entry_ids:
        return {}
    rows = session.exec(select(Certification, User).join(User, User.id == Certification.certified_by)
                        .where(Certification.entry_id.in_(entry_ids)))
    return {cert.entry_id: (cert, certifier) for cert, certifier in rows}


def _actions(session: Session, actor: User, entry: Entry) -> list[AvailableAction]:
    latest = session.get(Revision, entry.latest_revision_id) if entry.latest_revision_id else None
    return service.available_actions_for(session=session, actor=actor, entry=entry, revision=latest) if latest else []
