"""Content gaps: what people searched for, what they did not find, and whether searches ended in a
reused answer. Part of the knowledge-health dashboard (``expertise.health`` has the definitions).

Every number is a grouped SQL query over the query log (``search.models``) and the reuse table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from expertise.models import Reuse
from search.models import SearchClick, SearchLog
from workflow.models import Certification, CertificationStatus

if TYPE_CHECKING:
    from expertise.health import Period

LIVE_CERTIFICATION = (CertificationStatus.active.value, CertificationStatus.needs_reverification.value)


class utc_date(FunctionElement):
    """The UTC calendar day of a timestamp: SQLite stores UTC text; PostgreSQL converts explicitly,
    because ``date(timestamptz)`` would use the connection's time zone."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_date)
def _utc_date_default(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


@dataclass(frozen=True)
class FailedSearch:
    normalised: str
    query: str  # the most recent wording people typed (prefills "write an article")
    failed: int
    no_results: int
    no_click: int
    users: int
    last_seen: datetime


@dataclass(frozen=True)
class TopSearch:
    normalised: str
    query: str
    searches: int
    users: int
    clicked: int  # searches with at least one result opened

    @property
    def click_through(self) -> float:
        return self.clicked / self.searches if self.searches else 0.0


@dataclass(frozen=True)
class SearchDay:
    day: date
    searches: int
    failed: int


def _searches(period: Period):
    """The period's searches, each with whether any of its results was opened."""
    clicked = sa.exists().where(SearchClick.search_id == SearchLog.id)
    return (select(SearchLog.id, SearchLog.user_id, SearchLog.query, SearchLog.normalised, SearchLog.result_count,
                   SearchLog.created_at, sa.case((clicked, 1), else_=0).label("clicked"))
            .where(SearchLog.created_at >= period.since, SearchLog.created_at < period.until).subquery())


def _is_failed(s):
    return sa.or_(s.c.result_count == 0, s.c.clicked == 0)


def _latest_wording(session: Session, s, names: list[str], condition=None) -> dict[str, str]:
    """The query as typed in the latest search of each normalised group."""
    if not names:
        return {}
    latest = select(sa.func.max(s.c.id)).where(s.c.normalised.in_(names))
    if condition is not None:
        latest = latest.where(condition)
    rows = session.exec(select(SearchLog.normalised, SearchLog.query)
                        .where(SearchLog.id.in_(latest.group_by(s.c.normalised))))
    return dict(rows.all())


def failed_searches(*, session: Session, period: Period, limit: int = 25) -> list[FailedSearch]:
    s = _searches(period)
    failed = sa.func.count().label("failed")
    last_seen = sa.func.max(s.c.created_at).label("last_seen")
    rows = session.exec(
        select(s.c.normalised, failed,
               sa.func.sum(sa.case((s.c.result_count == 0, 1), else_=0)),
               sa.func.sum(sa.case((sa.and_(s.c.result_count > 0, s.c.clicked == 0), 1), else_=0)),
               sa.func.count(sa.distinct(s.c.user_id)), last_seen)
        .where(_is_failed(s)).group_by(s.c.normalised)
        .order_by(failed.desc(), last_seen.desc(), s.c.normalised).limit(limit)
    ).all()
    wording = _latest_wording(session, s, [r[0] for r in rows], _is_failed(s))
    return [FailedSearch(normalised=n, query=wording.get(n, n), failed=f, no_results=nr, no_click=nc, users=u,
                         last_seen=seen) for n, f, nr, nc, u, seen in rows]


def top_searches(*, session: Session, period: Period, limit: int = 20) -> list[TopSearch]:
    s = _searches(period)
    searches = sa.func.count().label("searches")
    rows = session.exec(
        select(s.c.normalised, searches, sa.func.count(sa.distinct(s.c.user_id)), sa.func.sum(s.c.clicked))
        .group_by(s.c.normalised).order_by(searches.desc(), s.c.normalised).limit(limit)
    ).all()
    wording = _latest_wording(session, s, [r[0] for r in rows])
    return [TopSearch(normalised=n, query=wording.get(n, n), searches=c, users=u, clicked=k)
            for n, c, u, k in rows]


def searches_per_day(*, session: Session, period: Period) -> list[SearchDay]:
    """Every UTC day of the period, days without searches included (as zeros)."""
    s = _searches(period)
    days = select(utc_date(s.c.created_at).label("day"), sa.case((_is_failed(s), 1), else_=0).label("failed")
                  ).subquery()
    rows = session.exec(select(days.c.day, sa.func.count(), sa.func.sum(days.c.failed)).group_by(days.c.day))
    counts = {_as_date(day): (n, f) for day, n, f in rows}
    first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
    return [SearchDay(d, *counts.get(d, (0, 0)))
            for d in (first + timedelta(days=i) for i in range((last - first).days + 1))]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class ReuseRate:
    searches: int
    searches_followed_by_reuse: int
    reuses: int  # every reuse in the period
    reuses_of_certified: int
    certified_entries: int
    certified_entries_reused: int

    @property
    def search_reuse_rate(self) -> float:
        return self.searches_followed_by_reuse / self.searches if self.searches else 0.0

    @property
    def reuses_per_certified_entry(self) -> float:
        return self.reuses_of_certified / self.certified_entries if self.certified_entries else 0.0


def reuse_rate(*, session: Session, period: Period) -> ReuseRate:
    following = sa.func.lead(SearchLog.created_at, type_=UTCDateTime).over(
        partition_by=SearchLog.user_id, order_by=(SearchLog.created_at, SearchLog.id))
    # Searches from ``since`` on: the next search of one in the period is never earlier.
    s = (select(SearchLog.id, SearchLog.user_id, SearchLog.created_at, following.label("next_at"))
         .where(SearchLog.created_at >= period.since).subquery())
    followed = sa.exists().where(Reuse.user_id == s.c.user_id, Reuse.created_at >= s.c.created_at,
                                 Reuse.created_at < period.until,
                                 sa.or_(s.c.next_at.is_(None), Reuse.created_at < s.c.next_at))
    searches, searches_reused = session.exec(
        select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((followed, 1), else_=0)), 0))
        .where(s.c.created_at < period.until)).one()
    live = select(Certification.entry_id).where(Certification.status.in_(LIVE_CERTIFICATION))
    certified = sa.case((Reuse.entry_id.in_(live), Reuse.entry_id))
    reuses, reuses_certified, entries_reused = session.exec(
        select(sa.func.count(), sa.func.count(certified), sa.func.count(sa.distinct(certified)))
        .where(Reuse.created_at >= period.since, Reuse.created_at < period.until)).one()
    certified_entries = session.exec(select(sa.func.count()).select_from(live.subquery())).one()
    return ReuseRate(searches=searches, searches_followed_by_reuse=searches_reused, reuses=reuses,
                     reuses_of_certified=reuses_certified, certified_entries=certified_entries,
                     certified_entries_reused=entries_reused)
