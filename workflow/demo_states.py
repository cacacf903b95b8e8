"""Demo workflow history: designated experts for every demo topic, and articles and answers in
every state (certified, in review, changes requested, approved, draft, rejected, a newer revision in
review, expiring soon, needing re-verification, flagged), with an audit trail written over months."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, select

from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import User
from kb.clock import travel, utcnow
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision
from kb.content.schemas import RevisionCreate
from kb.errors import DomainError
from workflow import expiry, flags, policy
from workflow.models import Action, FlagReason, WorkflowEvent
from workflow.service import transition

# Who looks after which demo topic (expert@example.com looks after all of them).
TOPIC_EXPERTS = {
    "maria.lopez@example.com": ("billing", "refunds", "subscriptions"),
    "sam.okafor@example.com": ("shipping", "returns", "orders"),
    "priya.nair@example.com": ("account-access", "passwords", "privacy"),
}
ALL_TOPICS = ("billing", "refunds", "subscriptions", "shipping", "returns", "orders", "account-access",
              "passwords", "privacy", "devices")
# One cycle of what happens to the demo articles, in order of writing.
PLAN = ("certified", "certified", "in_review", "certified", "changes_requested", "certified", "approved",
        "certified", "draft", "certified", "newer_in_review", "certified", "certified")


@dataclass
class DemoWorkflowReport:
    states: dict[str, int] = field(default_factory=dict)
    flags: int = 0
    needs_reverification: int = 0
    skipped: bool = False


def load_demo_workflow(*, session: Session) -> DemoWorkflowReport:
    """Idempotent: does nothing when any workflow event exists already (administrative events, such
    as creating the demo accounts, do not count)."""
    report = DemoWorkflowReport()
    if session.exec(select(WorkflowEvent.id).where(WorkflowEvent.entry_id.is_not(None))).first() is not None:
        report.skipped = True
        return report
    people = {email: accounts.find_user_by_email(session=session, email=email)
              for email in (*TOPIC_EXPERTS, "expert@example.com", "admin@example.com", "agent@example.com")}
    _designate(session, people)
    articles = list(session.exec(select(Entry).where(Entry.kind == EntryKind.article.value).order_by(Entry.created_at)))
    for index, entry in enumerate(articles):
        plan = "rejected" if index == 5 else PLAN[index % len(PLAN)]
        _play(session, people, entry, plan)
        report.states[plan] = report.states.get(plan, 0) + 1
    _certify_accepted_answers(session, people)
    report.flags = _flag_some(session, people, articles)
    report.needs_reverification = expiry.sweep(session=session).needs_reverification
    return report


def _designate(session: Session, people: dict[str, User]) -> None:
    for topic in ALL_TOPICS:
        try:
            policy.designate_expert(session=session, actor=SYSTEM, topic=topic, user=people["expert@example.com"])
        except DomainError:  # a topic the demo content does not use
            continue
    for email, topics in TOPIC_EXPERTS.items():
        for topic in topics:
            policy.designate_expert(session=session, actor=SYSTEM, topic=topic, user=people[email])


def _reviewers(session: Session, people: dict[str, User], revision: Revision) -> tuple[User, User]:
    """A reviewer and a certifier for this revision: topic experts who did not write it (admin otherwise)."""
    topics = content.tags_of(session=session, revision_ids=[revision.id])[revision.id]
    specialists = [people[e] for e, owned in TOPIC_EXPERTS.items() if set(owned) & set(topics)]
    candidates = [u for u in (*specialists, people["expert@example.com"]) if u.id != revision.author_id]
    certifier = candidates[0] if candidates else people["admin@example.com"]
    reviewer = next((u for u in candidates if u.id != certifier.id), certifier)
    return reviewer, certifier


def _play(session: Session, people: dict[str, User], entry: Entry, plan: str) -> None:
    revision = session.get(Revision, entry.latest_revision_id)
    author = session.get(User, revision.author_id)
    reviewer, certifier = _reviewers(session, people, revision)
    start = entry.created_at
    steps: list[tuple[User, Action, str]] = {
        "draft": [],
        "in_review": [(author, Action.submit, "")],
        "changes_requested": [(author, Action.submit, ""), (reviewer, Action.request_changes,
                              "Please add what to tell the customer, and the escalation path.")],
        "approved": [(author, Action.submit, ""), (reviewer, Action.approve, "Clear and correct.")],
        "rejected": [(author, Action.submit, ""), (reviewer, Action.reject,
                     "This duplicates an existing certified article; improve that one instead.")],
    }.get(plan, [(author, Action.submit, ""), (reviewer, Action.approve, "Checked against the current policy."),
                 (certifier, Action.certify, "")])
    for hours, (actor, action, comment) in enumerate(steps, start=1):
        with travel(start + timedelta(days=1, hours=5 * hours)):
            transition(session=session, actor=actor, revision_id=revision.id, action=action, comment=comment)
    if plan == "newer_in_review":
        with travel(min(start + timedelta(days=6), utcnow() - timedelta(days=1))):
            tags = content.tags_of(session=session, revision_ids=[revision.id])[revision.id]
            newer = content.save_revision(session=session, actor=author, entry=entry, data=RevisionCreate(
                title=revision.title, tags=tags, base_revision_id=revision.id,
                body=revision.body + "\n\n**Update:** this procedure now also applies to orders placed by phone.\n"))
            transition(session=session, actor=author, revision_id=newer.id, action=Action.submit)


def _certify_accepted_answers(session: Session, people: dict[str, User]) -> None:
    """Accepted answers written by experts go through review too; about half are certified."""
    questions = session.exec(select(Entry).where(Entry.kind == EntryKind.question.value,
                                                 Entry.accepted_answer_id.is_not(None)).order_by(Entry.id))
    for index, question in enumerate(questions):
        if index % 2:
            continue
        answer = session.get(Entry, question.accepted_answer_id)
        _play(session, people, answer, "certified")


def _flag_some(session: Session, people: dict[str, User], articles: list[Entry]) -> int:
    agent = people["agent@example.com"]
    certified = [e for e in articles if e.certified_revision_id][:2]
    reasons = [(FlagReason.outdated, "The customer says the refund form now asks for the order number first."),
               (FlagReason.unclear, "Step 3 does not say which team to escalate to.")]
    for entry, (reason, comment) in zip(certified, reasons, strict=False):
        with travel(utcnow() - timedelta(days=2)):
            flags.raise_flag(session=session, actor=agent, entry=entry, reason=reason, comment=comment)
    return len(certified)
