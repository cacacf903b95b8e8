"""Knowledge health: read-only analytics for experts and administrators.

Each section is one or two grouped SQL queries over a period ``[since, until)``; the results are
plain dataclasses the dashboard, its CSV export (``expertise.health_export``) and the tests read.
The search sections (failed and top searches, searches per day, reuse) are in ``expertise.search_gaps``.
The snapshot sections (review backlog, certifications, open flags, certified entries) describe the
state now, whatever the period.

Definitions (also shown on the page):

- A **failed search** found nothing ("no results"), or found results of which none was opened
  ("no click"). Searches are grouped by their normalised query (``search.querylog.normalise``).
- **Click-through rate** of a query: the share of its searches in which at least one result was opened.
- **Time to certify** of a revision certified in the period: from its first "submit" to its
  "certify" in the audit trail. Changes requested and the resubmit that follows do not restart
  the clock (the time the author spent reworking counts); a newer revision submitted after a
  withdrawal starts its own clock, and withdrawn revisions are not counted. A revision counts
  once in each of its topics (tags); the median is the middle value (the mean of the two
  middle ones for an even count), p90 the nearest-rank 90th percentile.
- **Review backlog**: revisions in review, approved (awaiting certification) or with changes
  requested, aged from their submission.
- **Expiring**: live certifications whose validity ends within 30 days (or already ended but not
  yet swept to "needs re-verification").
- **Search reuse rate**: the share of searches in the period after which the same person recorded
  a reuse ("used to solve a case") before their next search and before the period ended.
  **Reuses per certified entry**: reuses in the period of entries with a live certification,
  divided by the number of those entries.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import access
from kb.content.models import Entry, Revision, RevisionState, RevisionTag, Tag
from kb.errors import Forbidden, ValidationFailed
from expertise.models import ReputationEvent
from expertise.search_gaps import (LIVE_CERTIFICATION, FailedSearch, ReuseRate, SearchDay, TopSearch, failed_searches,
                                   reuse_rate, searches_per_day, top_searches)
from workflow.dashboard import EXPIRING_DAYS
from workflow.models import Action, Certification, CertificationStatus, Flag, FlagReason, FlagStatus, WorkflowEvent

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
NO_TOPIC = "(no topic)"
ALL_TOPICS = "All topics"
BACKLOG_STATES = (RevisionState.in_review.value, RevisionState.approved.value, RevisionState.changes_requested.value)
# (label, upper bound in days; None: no bound)
AGE_BUCKETS = (("under 1 day", 1), ("1–3 days", 3), ("3–7 days", 7), ("7–14 days", 14), ("14–30 days", 30),
               ("30 days or more", None))


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    days: int


def parse_days(text: str | int | None) -> int:
    """The period length a person chose; anything but 7, 30 or 90 is refused with a sentence."""
    try:
        days = int(text) if text not in (None, "") else DEFAULT_DAYS
    except (TypeError, ValueError):
        days = 0
    if days not in PERIODS:
        raise ValidationFailed("Choose a period of 7, 30 or 90 days.", field="days")
    return days


def period_ending(*, days: int, until: datetime | None = None) -> Period:
    until = until or utcnow()
    return Period(since=until - timedelta(days=days), until=until, days=days)


# --- time to certify --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeToCertify:
    topic: str
    certified: int
    median: timedelta
    p90: timedelta


def _first_submit():
    return (select(WorkflowEvent.revision_id, sa.func.min(WorkflowEvent.created_at).label("submitted_at"))
            .where(WorkflowEvent.action == Action.submit.value, WorkflowEvent.revision_id.is_not(None))
            .group_by(WorkflowEvent.revision_id).subquery())


def nearest_rank(values: list[float], percent: float) -> float:
    """The smallest value that at least ``percent`` % of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def _in_audience(viewer: User | None):
    """Entries limited to groups count only for those who may see them (``kb.content.access``): a
    topic's name is as telling as a title."""
    return sa.true() if viewer is None else access.audience_condition(viewer)


def certification_spans(*, session: Session, period: Period,
                        viewer: User | None = None) -> list[tuple[int, str | None, timedelta]]:
    """(revision id, topic or None, submit-to-certify time) for revisions certified in the period;
    a revision with several topics has one row per topic."""
    certified = (select(WorkflowEvent.revision_id, WorkflowEvent.created_at.label("certified_at"))
                 .where(WorkflowEvent.action == Action.certify.value, WorkflowEvent.created_at >= period.since,
                        WorkflowEvent.created_at < period.until).subquery())
    submitted = _first_submit()
    rows = session.exec(
        select(certified.c.revision_id, Tag.name, submitted.c.submitted_at, certified.c.certified_at)
        .join(submitted, submitted.c.revision_id == certified.c.revision_id)
        .join(Revision, Revision.id == certified.c.revision_id).join(Entry, Entry.id == Revision.entry_id)
        .outerjoin(RevisionTag, RevisionTag.revision_id == certified.c.revision_id)
        .outerjoin(Tag, Tag.id == RevisionTag.tag_id).where(_in_audience(viewer))
    )
    return [(revision_id, topic, done - start) for revision_id, topic, start, done in rows]


def time_to_certify(*, session: Session, period: Period, viewer: User | None = None) -> list[TimeToCertify]:
    """Per topic (slowest median first), then one row for all topics (each revision once)."""
    by_topic: dict[str, list[float]] = {}
    overall: dict[int, float] = {}
    for revision_id, topic, span in certification_spans(session=session, period=period, viewer=viewer):
        by_topic.setdefault(topic or NO_TOPIC, []).append(span.total_seconds())
        overall[revision_id] = span.total_seconds()

    def summary(topic: str, seconds: list[float]) -> TimeToCertify:
        return TimeToCertify(topic, len(seconds), timedelta(seconds=statistics.median(seconds)),
                             timedelta(seconds=nearest_rank(seconds, 90)))

    rows = sorted((summary(t, v) for t, v in by_topic.items()), key=lambda r: (-r.median, r.topic))
    if overall:
        rows.append(summary(ALL_TOPICS, list(overall.values())))
    return rows


# --- review backlog ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogItem:
    entry_id: int
    revision_id: int
    title: str
    state: str
    submitted_at: datetime


@dataclass
class Backlog:
    # bucket label -> state -> count, buckets in AGE_BUCKETS order
    ages: dict[str, dict[str, int]]
    oldest: list[BacklogItem]

    @property
    def by_state(self) -> dict[str, int]:
        return {state: sum(row[state] for row in self.ages.values()) for state in BACKLOG_STATES}

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    def bucket_total(self, label: str) -> int:
        return sum(self.ages[label].values())


def review_backlog(*, session: Session, period: Period, oldest: int = 10, viewer: User | None = None) -> Backlog:
    """Open reviews now, by age since submission (``period.until`` is "now")."""
    submitted = _first_submit()
    since = sa.func.coalesce(submitted.c.submitted_at, Revision.created_at)
    bucket = sa.case(*[(since > period.until - timedelta(days=bound), i)
                       for i, (_, bound) in enumerate(AGE_BUCKETS) if bound is not None],
                     else_=len(AGE_BUCKETS) - 1)
    open_reviews = (select(Revision.id, Revision.entry_id, Revision.title, Revision.state,
                           since.label("submitted_at"), bucket.label("bucket"))
                    .outerjoin(submitted, submitted.c.revision_id == Revision.id)
                    .join(Entry, Entry.id == Revision.entry_id)
                    .where(Revision.state.in_(BACKLOG_STATES), _in_audience(viewer)).subquery())
    ages = {label: dict.fromkeys(BACKLOG_STATES, 0) for label, _ in AGE_BUCKETS}
    # Grouped in an outer query: PostgreSQL cannot match a CASE with bound values in GROUP BY.
    for index, state, count in session.exec(
            select(open_reviews.c.bucket, open_reviews.c.state, sa.func.count())
            .group_by(open_reviews.c.bucket, open_reviews.c.state)):
        ages[AGE_BUCKETS[index][0]][state] = count
    items = session.exec(select(open_reviews.c.entry_id, open_reviews.c.id, open_reviews.c.title,
                                open_reviews.c.state, open_reviews.c.submitted_at)
                         .order_by(open_reviews.c.submitted_at, open_reviews.c.id).limit(oldest))
    return Backlog(ages=ages, oldest=[BacklogItem(*row) for row in items])


# --- certifications, flags --------------------------------------------------------------------


@dataclass(frozen=True)
class CertificationHealth:
    topic: str
    live: int  # active or needing re-verification
    expiring: int
    needs_reverification: int


def certification_health(*, session: Session, period: Period, viewer: User | None = None) -> list[CertificationHealth]:
    """Per topic of the certified revision, then all topics (each entry once)."""
    soon = period.until + timedelta(days=EXPIRING_DAYS)
    entry = Certification.entry_id
    counts = (sa.func.count(sa.distinct(entry)),
              sa.func.count(sa.distinct(sa.case((sa.and_(Certification.status == CertificationStatus.active.value,
                                                         Certification.valid_until <= soon), entry)))),
              sa.func.count(sa.distinct(sa.case(
                  (Certification.status == CertificationStatus.needs_reverification.value, entry)))))
    live = sa.and_(Certification.status.in_(LIVE_CERTIFICATION), _in_audience(viewer))
    per_topic = session.exec(
        select(Tag.name, *counts).select_from(Certification).join(Entry, Entry.id == Certification.entry_id)
        .outerjoin(RevisionTag, RevisionTag.revision_id == Certification.revision_id)
        .outerjoin(Tag, Tag.id == RevisionTag.tag_id).where(live).group_by(Tag.name)
    ).all()
    rows = sorted((CertificationHealth(name or NO_TOPIC, *n) for name, *n in per_topic),
                  key=lambda r: (-r.expiring - r.needs_reverification, r.topic))
    total = session.exec(select(*counts).select_from(Certification).join(Entry, Entry.id == Certification.entry_id)
                         .where(live)).one()
    return [*rows, CertificationHealth(ALL_TOPICS, *total)]


@dataclass(frozen=True)
class FlagCount:
    reason: str
    open: int  # open now
    raised: int  # raised in the period (whatever happened to them since)


def flag_counts(*, session: Session, period: Period) -> list[FlagCount]:
    in_period = sa.and_(Flag.created_at >= period.since, Flag.created_at < period.until)
    rows = session.exec(select(Flag.reason, sa.func.sum(sa.case((Flag.status == FlagStatus.open.value, 1), else_=0)),
                               sa.func.sum(sa.case((in_period, 1), else_=0))).group_by(Flag.reason))
    counts = {reason: (o, r) for reason, o, r in rows}
    return [FlagCount(reason, *counts.pop(reason, (0, 0))) for reason in (r.value for r in FlagReason)] + [
        FlagCount(reason, o, r) for reason, (o, r) in sorted(counts.items())]


# --- contributors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contributor:
    user_id: int
    name: str
    points: int
    events: int


def top_contributors(*, session: Session, period: Period, limit: int = 10) -> list[Contributor]:
    points = sa.func.sum(ReputationEvent.points).label("points")
    rows = session.exec(
        select(User.id, User.display_name, points, sa.func.count(ReputationEvent.id))
        .join(ReputationEvent, ReputationEvent.user_id == User.id)
        .where(ReputationEvent.created_at >= period.since, ReputationEvent.created_at < period.until)
        .group_by(User.id, User.display_name).order_by(points.desc(), User.display_name, User.id).limit(limit))
    return [Contributor(*row) for row in rows]


# --- the dashboard ----------------------------------------------------------------------------


@dataclass
class KnowledgeHealth:
    period: Period
    failed_searches: list[FailedSearch] = field(default_factory=list)
    top_searches: list[TopSearch] = field(default_factory=list)
    searches_per_day: list[SearchDay] = field(default_factory=list)
    time_to_certify: list[TimeToCertify] = field(default_factory=list)
    backlog: Backlog | None = None
    certifications: list[CertificationHealth] = field(default_factory=list)
    flags: list[FlagCount] = field(default_factory=list)
    reuse: ReuseRate | None = None
    contributors: list[Contributor] = field(default_factory=list)


def require_viewer(actor: User) -> None:
    if not access.is_reviewer(actor):
        raise Forbidden("The knowledge-health dashboard is for experts and administrators.")


def dashboard(*, session: Session, actor: User, days: int | str, until: datetime | None = None) -> KnowledgeHealth:
    """Every section for the ``days`` before ``until`` (default now); experts and administrators only."""
    require_viewer(actor)
    period = period_ending(days=parse_days(days), until=until)
    return KnowledgeHealth(
        period=period,
        failed_searches=failed_searches(session=session, period=period),
        top_searches=top_searches(session=session, period=period),
        searches_per_day=searches_per_day(session=session, period=period),
        time_to_certify=time_to_certify(session=session, period=period, viewer=actor),
        backlog=review_backlog(session=session, period=period, viewer=actor),
        certifications=certification_health(session=session, period=period, viewer=actor),
        flags=flag_counts(session=session, period=period),
        reuse=reuse_rate(session=session, period=period),
        contributors=top_contributors(session=session, period=period),
    )
