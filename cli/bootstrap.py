"""One wiring for every entry point: the tables, the domain-event subscribers, the periodic jobs.

``kb`` imports no other package, so it cannot know who reacts to its events or which work runs on
a timer; this composition root tells it, once per process, before the web app is built
(``cli.asgi``), before a command touches the database (``cli.common.engine``) and in the tests.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

# Every table module, so that SQLModel.metadata is complete (the schema test, backups, relationships).
import expertise.models  # noqa: F401
import kb.accounts.models  # noqa: F401
import kb.content.models  # noqa: F401
import search.models  # noqa: F401
import workflow.models  # noqa: F401
from expertise import questions, reputation, routing, scores
from kb import events, jobs
from kb.content import submissions
from kb.settings import Settings
from search import outbox
from workflow import account_mail, audit, expiry, flags, forum_notices, mailer, webhook_sender, webhooks


def bootstrap() -> None:
    """Register every subscriber of every package and every periodic job (idempotent)."""
    # Reactions to domain events.
    flags.register()  # a certification closes the flags it answers
    audit.register()  # administrative changes announced by kb and search go into the audit trail
    account_mail.register()  # links to set a password (invitations, resets) emailed once committed
    outbox.register()  # changes that affect search write outbox rows for the indexer
    routing.register()  # reviewers assigned on submit
    questions.register()  # new questions routed to the experts of their tags
    forum_notices.register()  # the asker hears of answers and acceptance, the answerer of acceptance
    reputation.register()  # points for accepted answers, certifications, votes, reuse, reviews, upheld flags
    scores.register()  # expertise per user x topic, recomputed from the evidence an event touches
    webhooks.register()  # certifications, expiries, flags and forum posts queue webhook deliveries
    # Periodic jobs, in this order (each in its own transaction, see kb.jobs).
    jobs.register("expiry", expire_certifications)
    jobs.register("mail", deliver_mail)
    jobs.register("digests", send_digests)
    jobs.register("escalation", escalate_questions)
    jobs.register("expertise recompute", recompute_expertise)
    jobs.register("form tokens", forget_form_tokens)
    jobs.register("webhooks", send_webhooks)
    events.mark_bootstrapped()


# The jobs: the work lives in the package that owns it; these only adapt it to kb.jobs' signature.

def expire_certifications(*, session: Session, settings: Settings, now: datetime | None) -> expiry.SweepReport:
    """Expiry reminders, and expired certifications marked as needing re-verification."""
    return expiry.sweep(session=session, now=now)


def deliver_mail(*, session: Session, settings: Settings, now: datetime | None) -> int:
    """Emails for users who want their notifications at once."""
    return mailer.deliver_pending(session=session, settings=settings, now=now)


def send_digests(*, session: Session, settings: Settings, now: datetime | None) -> int:
    """Daily digest emails."""
    return mailer.send_digests(session=session, settings=settings, now=now)


def escalate_questions(*, session: Session, settings: Settings, now: datetime | None) -> int:
    """Unanswered questions escalated to more experts."""
    return questions.escalate_unanswered(session=session, now=now)


def recompute_expertise(*, session: Session, settings: Settings, now: datetime | None) -> bool:
    """The daily full recompute of expertise scores (time decay reaches people without new evidence)."""
    return scores.recompute_when_due(session=session, now=now)


def forget_form_tokens(*, session: Session, settings: Settings, now: datetime | None) -> int:
    """Records of one-time form tokens too old to be accepted anyway."""
    return submissions.forget_used_tokens(session=session, now=now)


def send_webhooks(*, session: Session, settings: Settings, now: datetime | None) -> webhook_sender.DeliveryReport:
    """Webhook deliveries due (new ones and retries), sent outside this job's transaction; then the
    log forgets deliveries delivered long ago."""
    report = webhook_sender.deliver(engine=session.get_bind(), settings=settings, now=now)
    webhook_sender.forget_delivered(session=session, now=now)
    return report
