"""The expiry sweep: remind before a certification runs out, and mark it for re-verification after.

Run by ``kb expire`` (cron) in one transaction. Every change is a conditional update on the
certification's version, so a sweep racing another sweep or an expert's re-verification changes
each certification at most once; running it twice does nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from kb.accounts.actors import SYSTEM
from kb.accounts.models import User
from kb.clock import utcnow
from kb.content.models import Revision
from kb.events import CERTIFICATION_CHANGED, Event, publish
from workflow import audit
from workflow.models import Certification, CertificationStatus, Policy
from workflow.notify import notify
from workflow.policy import EffectivePolicy, effective_policy, revision_tag_ids, topic_experts

ACTIVE = CertificationStatus.active.value
STALE = CertificationStatus.needs_reverification.value


@dataclass
class SweepReport:
    reminded: list[int] = field(default_factory=list)  # entry ids reminded about
    expired: list[int] = field(default_factory=list)  # entry ids that now need re-verification

    @property
    def reminders_sent(self) -> int:
        return len(self.reminded)

    @property
    def needs_reverification(self) -> int:
        return len(self.expired)

    def __bool__(self) -> bool:  # did the sweep change anything (the periodic log skips empty runs)
        return bool(self.reminded or self.expired)


def as_utc(moment: datetime) -> datetime:
    """A naive time is taken to be UTC (as the database stores it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sweep(*, session: Session, now: datetime | None = None) -> SweepReport:
    """Send the reminders that are due and expire what has run out, as of ``now`` (default: the clock)."""
    now = as_utc(now) if now is not None else utcnow()
    report = SweepReport()
    _remind(session, now, report)
    _expire(session, now, report)
    return report


def _longest_reminder(session: Session) -> int:
    longest = session.exec(select(func.max(Policy.reminder_days))).one()
    return max(longest or 0, EffectivePolicy().reminder_days)


def _people(session: Session, cert: Certification, tag_ids: list[int]) -> list[User]:
    """Who vouched for the content (certifier, last re-verifier) and the topic's experts."""
    vouched = [session.get(User, uid) for uid in (cert.certified_by, cert.reverified_by) if uid is not None]
    return [*vouched, *topic_experts(session=session, tag_ids=tag_ids)]


def _claim(session: Session, cert: Certification, **values) -> bool:
    moved = session.exec(update(Certification).where(
        Certification.entry_id == cert.entry_id, Certification.version == cert.version, Certification.status == ACTIVE,
    ).values(version=cert.version + 1, **values)).rowcount
    session.refresh(cert)
    return moved == 1


def _remind(session: Session, now: datetime, report: SweepReport) -> None:
    horizon = now + timedelta(days=_longest_reminder(session))
    due = session.exec(select(Certification).where(
        Certification.status == ACTIVE, Certification.reminder_sent_at.is_(None),
        Certification.valid_until > now, Certification.valid_until <= horizon,
    ).order_by(Certification.valid_until)).all()
    for cert in due:
        tag_ids = revision_tag_ids(session=session, revision_id=cert.revision_id)
        if as_utc(cert.valid_until) - timedelta(days=effective_policy(session=session, tag_ids=tag_ids).reminder_days) > now:
            continue
        if not _claim(session, cert, reminder_sent_at=now):
            continue
        title = session.get(Revision, cert.revision_id).title or f"entry {cert.entry_id}"
        notify(session=session, users=_people(session, cert, tag_ids), kind="expiry_reminder", entry_id=cert.entry_id,
               link=f"/entries/{cert.entry_id}",
               message=f"The certification of “{title}” expires on {as_utc(cert.valid_until):%Y-%m-%d}. "
                       "Re-verify it if it is still right, or archive it.")
        report.reminded.append(cert.entry_id)


def _expire(session: Session, now: datetime, report: SweepReport) -> None:
    due = session.exec(select(Certification).where(Certification.status == ACTIVE, Certification.valid_until <= now)
                       .order_by(Certification.valid_until)).all()
    for cert in due:
        if not _claim(session, cert, status=STALE):
            continue
        expired_on = f"{as_utc(cert.valid_until):%Y-%m-%d}"
        audit.record(session=session, entry_id=cert.entry_id, revision_id=cert.revision_id, actor=SYSTEM, action="expire",
                     from_state=ACTIVE, to_state=STALE, comment=f"Certification valid until {expired_on}.",
                     signature="expired automatically")
        tag_ids = revision_tag_ids(session=session, revision_id=cert.revision_id)
        title = session.get(Revision, cert.revision_id).title or f"entry {cert.entry_id}"
        notify(session=session, users=_people(session, cert, tag_ids), kind="needs_reverification", entry_id=cert.entry_id,
               link=f"/entries/{cert.entry_id}",
               message=f"The certification of “{title}” expired on {expired_on}. Agents still see it, marked as "
                       "stale, until an expert re-verifies or archives it.")
        publish(session=session, event=Event(CERTIFICATION_CHANGED, entry_id=cert.entry_id, revision_id=cert.revision_id,
                               data={"action": "expire", "needs_reverification": True}))
        report.expired.append(cert.entry_id)
