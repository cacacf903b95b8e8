"""CSV export of each knowledge-health table, with the same numbers as the dashboard.

Cells that a spreadsheet would run as a formula (text starting with = + - @, a tab or a carriage
return: search queries and titles are typed by people) are prefixed with an apostrophe, as OWASP
recommends against CSV injection. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from expertise import health, search_gaps
from expertise.health import Period
from kb.accounts.models import User
from kb.csvcells import safe_cell
from kb.errors import NotFound

EXPORT_LIMIT = 1000  # rows of the long lists (failed and top searches); the page shows the first ones

Table = tuple[list[str], list[list]]


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 2)


def _percent(share: float) -> float:
    return round(share * 100, 1)


def failed_searches(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = search_gaps.failed_searches(session=session, period=period, limit=EXPORT_LIMIT)
    return (["query", "normalised_query", "failed_searches", "no_results", "results_but_no_click", "users",
             "last_seen_utc"],
            [[f.query, f.normalised, f.failed, f.no_results, f.no_click, f.users, f.last_seen] for f in rows])


def top_searches(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = search_gaps.top_searches(session=session, period=period, limit=EXPORT_LIMIT)
    return (["query", "normalised_query", "searches", "users", "searches_with_a_click", "click_through_percent"],
            [[t.query, t.normalised, t.searches, t.users, t.clicked, _percent(t.click_through)] for t in rows])


def searches_per_day(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = search_gaps.searches_per_day(session=session, period=period)
    return (["day_utc", "searches", "failed_searches", "failed_percent"],
            [[d.day, d.searches, d.failed, _percent(d.failed / d.searches if d.searches else 0)] for d in rows])


def time_to_certify(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = health.time_to_certify(session=session, period=period, viewer=viewer)
    return (["topic", "certified_revisions", "median_hours", "p90_hours"],
            [[r.topic, r.certified, _hours(r.median), _hours(r.p90)] for r in rows])


def review_backlog(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    backlog = health.review_backlog(session=session, period=period, viewer=viewer)
    return (["age_since_submission", *health.BACKLOG_STATES, "total"],
            [[label, *backlog.ages[label].values(), backlog.bucket_total(label)] for label, _ in health.AGE_BUCKETS])


def oldest_reviews(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    backlog = health.review_backlog(session=session, period=period, oldest=EXPORT_LIMIT, viewer=viewer)
    return (["entry_id", "revision_id", "title", "state", "submitted_at_utc", "age_days"],
            [[i.entry_id, i.revision_id, i.title, i.state, i.submitted_at,
              round((period.until - i.submitted_at).total_seconds() / 86400, 1)] for i in backlog.oldest])


def certifications(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = health.certification_health(session=session, period=period, viewer=viewer)
    return (["topic", "live_certifications", f"expiring_within_{health.EXPIRING_DAYS}_days", "needs_reverification"],
            [[c.topic, c.live, c.expiring, c.needs_reverification] for c in rows])


def flags(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    return (["reason", "open_now", "raised_in_period"],
            [[f.reason, f.open, f.raised] for f in health.flag_counts(session=session, period=period)])


def reuse(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    r = search_gaps.reuse_rate(session=session, period=period)
    return (["measure", "value"], [
        ["searches", r.searches],
        ["searches_followed_by_a_reuse", r.searches_followed_by_reuse],
        ["search_reuse_rate_percent", _percent(r.search_reuse_rate)],
        ["reuses", r.reuses],
        ["reuses_of_certified_entries", r.reuses_of_certified],
        ["certified_entries", r.certified_entries],
        ["certified_entries_reused", r.certified_entries_reused],
        ["reuses_per_certified_entry", round(r.reuses_per_certified_entry, 3)],
    ])


def top_contributors(*, session: Session, period: Period, viewer: User | None = None) -> Table:
    rows = health.top_contributors(session=session, period=period, limit=EXPORT_LIMIT)
    return (["name", "points", "reputation_events"], [[c.name, c.points, c.events] for c in rows])


TABLES: dict[str, Callable[..., Table]] = {
    "failed-searches": failed_searches,
    "top-searches": top_searches,
    "searches-per-day": searches_per_day,
    "time-to-certify": time_to_certify,
    "review-backlog": review_backlog,
    "oldest-reviews": oldest_reviews,
    "certifications": certifications,
    "flags": flags,
    "reuse": reuse,
    "top-contributors": top_contributors,
}


def export_csv(*, session: Session, actor: User, table: str, days: int | str,
               until: datetime | None = None) -> tuple[str, str]:
    """(file name, CSV text) of one dashboard table; experts and administrators only."""
    health.require_viewer(actor)
    if table not in TABLES:
        raise NotFound(f"There is no knowledge-health table called “{table}”. "
                       f"Choose one of: {', '.join(TABLES)}.")
    period = health.period_ending(days=health.parse_days(days), until=until)
    columns, rows = TABLES[table](session=session, period=period, viewer=actor)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)  # every cell quoted (kb.csvcells)
    writer.writerow(columns)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return f"knowledge-health-{table}-{period.days}d-{period.until:%Y-%m-%d}.csv", out.getvalue()
