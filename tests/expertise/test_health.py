"""The knowledge-health numbers equal what independent SQL over the same tables says.

The dataset is built through the real services (articles, workflow transitions, flags, the expiry
sweep, the query log) at known moments with ``kb.clock.travel``; the tables other engineers' services
fill (reuse, reputation events) and the search log's exact timing are written directly.
"""

from __future__ import annotations

import math
import statistics
import uuid
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

from cli.bootstrap import bootstrap
from expertise import health
from expertise.models import ReputationEvent, Reuse
from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.clock import travel, utcnow
from kb.content import service as content
from kb.content.schemas import ArticleCreate
from kb.errors import Forbidden, ValidationFailed
from search import querylog
from search.models import SearchClick, SearchLog
from workflow import expiry, flags
from workflow.models import Action, FlagReason
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TOLERANCE = timedelta(seconds=30)  # travel() keeps the clock ticking while the services run


def make_user(db, *roles: str, name: str):
    data = UserCreate(email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com", display_name=name,
                      roles=[Role(r) for r in roles], password=None)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


def query(db, statement: str, *, columns: dict | None = None, **params) -> list[tuple]:
    """Raw SQL (the independent check), with datetime parameters and columns typed as UTC."""
    clause = sa.text(statement).bindparams(*[
        sa.bindparam(k, v, type_=UTCDateTime) if isinstance(v, datetime) else sa.bindparam(k, v)
        for k, v in params.items()])
    if columns:
        clause = clause.columns(*[sa.column(name, type_) for name, type_ in columns.items()])
    return [tuple(row) for row in db.connection().execute(clause)]


class World:
    """The arranged data and its moments."""

    def __init__(self, db):
        self.db = db
        self.now = utcnow()
        self.period = health.period_ending(days=30, until=self.now)
        self.author = make_user(db, "author", name="Ada Author")
        self.expert = make_user(db, "expert", name="Eve Expert")
        self.agent1 = make_user(db, "agent", name="Agent One")
        self.agent2 = make_user(db, "agent", name="Agent Two")
        self.other = make_user(db, "author", name="Bo Writer")
        self.entries: dict[str, object] = {}

    def at(self, moment: datetime):
        return travel(moment)

    def article(self, key: str, tags: list[str]):
        entry = content.create_article(session=self.db, actor=self.author, data=ArticleCreate(
            title=f"Article {key}", body=f"How to handle {key}.", tags=tags))
        for tag in tags:
            designate_expert(session=self.db, actor=SYSTEM, topic=tag, user=self.expert)
        self.entries[key] = entry
        return entry

    def act(self, who, entry, action: Action, comment: str = ""):
        transition(session=self.db, actor=who, revision_id=entry.latest_revision_id, action=action,
                   comment=comment)

    def certified(self, key: str, tags: list[str], *, submitted: datetime, takes: timedelta,
                  changes_requested: bool = False):
        entry = self.article(key, tags)
        with self.at(submitted):
            self.act(self.author, entry, Action.submit)
        if changes_requested:
            with self.at(submitted + HOUR):
                self.act(self.expert, entry, Action.request_changes, "Add the refund form.")
            with self.at(submitted + 3 * HOUR):
                self.act(self.author, entry, Action.resubmit)
        with self.at(submitted + takes):
            self.act(self.expert, entry, Action.approve)
            self.act(self.expert, entry, Action.certify)
        return entry

    def search(self, who, text: str, *, at: datetime, results: int, clicked=None) -> SearchLog:
        row = SearchLog(user_id=who.id, query=text, normalised=querylog.normalise(text), result_count=results,
                        created_at=at)
        self.db.add(row)
        self.db.flush()
        if clicked is not None:
            self.db.add(SearchClick(search_id=row.id, entry_id=clicked.id, rank=1, created_at=at + timedelta(seconds=5)))
        return row

    def reuse(self, who, entry, *, at: datetime):
        self.db.add(Reuse(entry_id=entry.id, revision_id=entry.certified_revision_id, user_id=who.id,
                          case_ref="CASE-1", created_at=at))

    def points(self, who, kind: str, points: int, *, at: datetime):
        self.db.add(ReputationEvent(user_id=who.id, kind=kind, points=points, created_at=at))


@pytest.fixture
def world(db) -> World:
    # As in the app: the expertise reactions (reputation points for certifications and reviews, ...)
    # run, whatever tests ran before in this process.
    bootstrap()
    w = World(db)
    now = w.now
    # Certified in the period, with known submit -> certify times (A3: changes requested, resubmitted).
    w.certified("A1", ["billing"], submitted=now - 20 * DAY, takes=2 * HOUR)
    w.certified("A2", ["billing"], submitted=now - 15 * DAY, takes=4 * HOUR)
    w.certified("A3", ["billing"], submitted=now - 12 * DAY, takes=5 * HOUR, changes_requested=True)
    w.certified("A4", ["billing", "shipping"], submitted=now - 10 * DAY, takes=6 * HOUR)
    w.certified("A5", ["billing"], submitted=now - 5 * DAY, takes=10 * HOUR)
    w.certified("A6", ["shipping"], submitted=now - 8 * DAY, takes=24 * HOUR)
    # Certified before the period: A7 has expired (the sweep marks it), A8 expires within 30 days.
    w.certified("A7", ["billing"], submitted=now - 100 * DAY, takes=HOUR)
    w.certified("A8", ["shipping"], submitted=now - 75 * DAY, takes=HOUR)
    expiry.sweep(session=db, now=now)
    # The review backlog, by age since submission.
    for key, tags, ago, state in (("B1", ["billing"], 10 * DAY, "in_review"), ("B2", ["shipping"], 2 * DAY, "approved"),
                                  ("B3", ["billing"], 40 * DAY, "changes_requested"), ("B5", [], 2 * HOUR, "in_review")):
        entry = w.article(key, tags)
        with w.at(now - ago):
            w.act(w.author, entry, Action.submit)
            if state == "approved":
                w.act(w.expert, entry, Action.approve)
            if state == "changes_requested":
                w.act(w.expert, entry, Action.request_changes, "Say which form to use.")
    w.article("B4", ["billing"])  # a draft is not in the backlog
    # Flags: two open "outdated", one dismissed "incorrect", one open "unclear" raised before the period.
    e = w.entries
    with w.at(now - 40 * DAY):
        flags.raise_flag(session=db, actor=w.agent2, entry=e["A8"], reason=FlagReason.unclear)
    with w.at(now - 3 * DAY):
        flags.raise_flag(session=db, actor=w.agent1, entry=e["A1"], reason=FlagReason.outdated)
        flags.raise_flag(session=db, actor=w.agent2, entry=e["A4"], reason=FlagReason.outdated, comment="New rates")
        wrong = flags.raise_flag(session=db, actor=w.agent1, entry=e["A2"], reason=FlagReason.incorrect)
        flags.dismiss_flag(session=db, actor=w.expert, flag=wrong, reason="Checked with finance: it is right.")
    # Searches (two wordings of one query, a search with results nobody opened, ...) and reuse.
    w.search(w.agent1, "Refund lost parcel", at=now - 3 * DAY, results=0)
    w.search(w.agent2, "refund, lost parcel!", at=now - 2 * DAY, results=0)
    w.search(w.agent1, "invoice copy", at=now - DAY, results=5)
    w.search(w.agent2, "invoice copy", at=now - 20 * HOUR, results=5, clicked=e["A1"])
    w.search(w.agent1, "warranty", at=now - 40 * DAY, results=0)  # before the period
    w.search(w.agent1, "password reset", at=now - 6 * HOUR, results=3, clicked=e["A1"])
    w.reuse(w.agent1, e["A1"], at=now - 6 * HOUR + 2 * timedelta(minutes=1))
    w.search(w.agent2, "password reset", at=now - 5 * HOUR, results=3)
    w.search(w.agent2, "shipping delay", at=now - 4 * HOUR, results=2, clicked=e["A6"])
    w.reuse(w.agent2, e["A6"], at=now - 4 * HOUR + timedelta(minutes=1))
    w.reuse(w.author, e["A2"], at=now - 2 * DAY)  # no search before it
    w.reuse(w.agent1, e["A1"], at=now - 35 * DAY)  # before the period
    with w.at(now - HOUR):
        querylog.log_search(session=db, user_id=w.agent1.id, query="Gift card balance", result_count=0)
    # Reputation.
    w.points(w.author, "certified", 10, at=now - 20 * DAY)
    w.points(w.author, "certified", 10, at=now - 15 * DAY)
    w.points(w.author, "helpful_vote", 2, at=now - DAY)
    w.points(w.expert, "review_done", 5, at=now - 10 * DAY)
    w.points(w.expert, "review_done", 5, at=now - 8 * DAY)
    w.points(w.agent1, "helpful_vote", 1, at=now - DAY)
    w.points(w.other, "certified", 50, at=now - 40 * DAY)  # before the period
    db.commit()
    return w


def report_of(w: World) -> health.KnowledgeHealth:
    return health.dashboard(session=w.db, actor=w.expert, days=30, until=w.now)


# --- searches ---------------------------------------------------------------------------------


FAILED_SQL = """
SELECT s.normalised, COUNT(*) AS failed,
       SUM(CASE WHEN s.result_count = 0 THEN 1 ELSE 0 END) AS no_results,
       COUNT(DISTINCT s.user_id) AS users, MAX(s.created_at) AS last_seen
FROM search_log s
WHERE s.created_at >= :since AND s.created_at < :until
  AND (s.result_count = 0 OR s.id NOT IN (SELECT c.search_id FROM search_click c))
GROUP BY s.normalised
"""


def test_failed_searches_are_grouped_by_normalised_query_and_match_the_database(world):
    report = report_of(world)
    p = report.period
    expected = {row[0]: row[1:] for row in query(
        world.db, FAILED_SQL, since=p.since, until=p.until,
        columns={"normalised": sa.String, "failed": sa.Integer, "no_results": sa.Integer, "users": sa.Integer,
                 "last_seen": UTCDateTime})}
    got = {f.normalised: (f.failed, f.no_results, f.users, f.last_seen) for f in report.failed_searches}
    assert got == expected
    for f in report.failed_searches:
        assert f.failed == f.no_results + f.no_click
    # The gap report, most frequent first; the link text is the latest wording people used.
    first = report.failed_searches[0]
    assert (first.normalised, first.query, first.failed, first.no_results, first.users) == (
        "refund lost parcel", "refund, lost parcel!", 2, 2, 2)
    assert [f.normalised for f in report.failed_searches] == [
        "refund lost parcel", "gift card balance", "password reset", "invoice copy"]
    invoice = next(f for f in report.failed_searches if f.normalised == "invoice copy")
    assert (invoice.no_results, invoice.no_click) == (0, 1)
    assert "warranty" not in got  # searched before the period


def test_top_searches_count_and_click_through_match_the_database(world):
    report = report_of(world)
    p = report.period
    rows = query(world.db, """
        SELECT s.normalised, COUNT(*), COUNT(DISTINCT s.user_id),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM search_click c WHERE c.search_id = s.id) THEN 1 ELSE 0 END)
        FROM search_log s WHERE s.created_at >= :since AND s.created_at < :until GROUP BY s.normalised""",
                 since=p.since, until=p.until)
    assert {t.normalised: (t.searches, t.users, t.clicked) for t in report.top_searches} == {
        n: (c, u, k) for n, c, u, k in rows}
    invoice = next(t for t in report.top_searches if t.normalised == "invoice copy")
    assert invoice.click_through == 0.5
    assert report.top_searches[0].searches == 2


def test_searches_per_day_match_the_database(world):
    if world.db.get_bind().dialect.name == "postgresql":
        # Days are UTC days even when the database session's time zone is 14 hours ahead.
        world.db.connection().execute(sa.text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))
    report = report_of(world)
    p = report.period
    rows = query(world.db, """
        SELECT s.created_at, CASE WHEN s.result_count = 0 OR NOT EXISTS (
                   SELECT 1 FROM search_click c WHERE c.search_id = s.id) THEN 1 ELSE 0 END
        FROM search_log s WHERE s.created_at >= :since AND s.created_at < :until""",
                 since=p.since, until=p.until, columns={"created_at": UTCDateTime, "failed": sa.Integer})
    expected: dict[date, list[int]] = {}
    for created_at, failed in rows:
        counts = expected.setdefault(created_at.date(), [0, 0])
        counts[0] += 1
        counts[1] += failed
    days = report.searches_per_day
    assert days[0].day == p.since.date() and days[-1].day == p.until.date()
    assert len(days) == 31 and [d.day for d in days] == sorted({d.day for d in days})
    assert {d.day: [d.searches, d.failed] for d in days if d.searches} == expected
    assert sum(d.searches for d in days) == 8


# --- time to certify --------------------------------------------------------------------------


def test_time_to_certify_median_and_p90_on_known_durations(world):
    rows = {r.topic: r for r in report_of(world).time_to_certify}
    # billing: 2, 4, 5 (changes requested, resubmitted: the clock kept running), 6, 10 hours.
    billing, shipping, everything = rows["billing"], rows["shipping"], rows[health.ALL_TOPICS]
    assert billing.certified == 5 and abs(billing.median - 5 * HOUR) < TOLERANCE
    assert abs(billing.p90 - 10 * HOUR) < TOLERANCE
    # shipping: 6 (also billing) and 24 hours; A8 was certified before the period.
    assert shipping.certified == 2 and abs(shipping.median - 15 * HOUR) < TOLERANCE
    assert abs(shipping.p90 - 24 * HOUR) < TOLERANCE
    # All topics: each revision once: 2, 4, 5, 6, 10, 24 hours.
    assert everything.certified == 6 and abs(everything.median - 5.5 * HOUR) < TOLERANCE
    assert abs(everything.p90 - 24 * HOUR) < TOLERANCE
    assert list(rows) == ["shipping", "billing", health.ALL_TOPICS]  # slowest first


def test_time_to_certify_equals_the_audit_trail(world):
    report = report_of(world)
    p = report.period
    rows = query(world.db, """
        SELECT t.name, c.created_at, (SELECT MIN(s.created_at) FROM workflow_event s
                                      WHERE s.revision_id = c.revision_id AND s.action = 'submit')
        FROM workflow_event c
        LEFT JOIN revision_tag rt ON rt.revision_id = c.revision_id LEFT JOIN tag t ON t.id = rt.tag_id
        WHERE c.action = 'certify' AND c.created_at >= :since AND c.created_at < :until""",
                 since=p.since, until=p.until,
                 columns={"name": sa.String, "certified": UTCDateTime, "submitted": UTCDateTime})
    spans: dict[str, list[float]] = {}
    for name, certified, submitted in rows:
        spans.setdefault(name, []).append((certified - submitted).total_seconds())
    for row in report.time_to_certify:
        if row.topic == health.ALL_TOPICS:
            continue
        values = sorted(spans[row.topic])
        assert row.certified == len(values)
        assert row.median.total_seconds() == pytest.approx(statistics.median(values))
        assert row.p90.total_seconds() == pytest.approx(values[math.ceil(0.9 * len(values)) - 1])


# --- backlog, certifications, flags -----------------------------------------------------------


def test_review_backlog_by_state_and_age_matches_the_database(world):
    report = report_of(world)
    backlog = report.backlog
    rows = query(world.db, """
        SELECT r.state, COALESCE((SELECT MIN(e.created_at) FROM workflow_event e
                                  WHERE e.revision_id = r.id AND e.action = 'submit'), r.created_at)
        FROM revision r WHERE r.state IN ('in_review', 'approved', 'changes_requested')""",
                 columns={"state": sa.String, "since": UTCDateTime})
    expected = {label: {s: 0 for s in health.BACKLOG_STATES} for label, _ in health.AGE_BUCKETS}
    for state, since in rows:
        age = world.now - since
        label = next(label for label, bound in health.AGE_BUCKETS if bound is None or age < timedelta(days=bound))
        expected[label][state] += 1
    assert backlog.ages == expected
    assert backlog.by_state == {"in_review": 2, "approved": 1, "changes_requested": 1} and backlog.total == 4
    assert [backlog.bucket_total(label) for label, _ in health.AGE_BUCKETS] == [1, 1, 0, 1, 0, 1]
    assert [item.title for item in backlog.oldest] == ["Article B3", "Article B1", "Article B2", "Article B5"]


def test_expiring_and_needs_reverification_match_the_database(world):
    report = report_of(world)
    soon = world.now + timedelta(days=30)
    (total,) = query(world.db, """
        SELECT COUNT(*), SUM(CASE WHEN status = 'active' AND valid_until <= :soon THEN 1 ELSE 0 END),
               SUM(CASE WHEN status = 'needs_reverification' THEN 1 ELSE 0 END)
        FROM certification WHERE status IN ('active', 'needs_reverification')""", soon=soon)
    overall = report.certifications[-1]
    assert overall.topic == health.ALL_TOPICS
    assert (overall.live, overall.expiring, overall.needs_reverification) == total == (8, 1, 1)
    by_topic = {c.topic: (c.live, c.expiring, c.needs_reverification) for c in report.certifications[:-1]}
    for topic, counts in by_topic.items():
        (expected,) = query(world.db, """
            SELECT COUNT(*), SUM(CASE WHEN c.status = 'active' AND c.valid_until <= :soon THEN 1 ELSE 0 END),
                   SUM(CASE WHEN c.status = 'needs_reverification' THEN 1 ELSE 0 END)
            FROM certification c JOIN revision_tag rt ON rt.revision_id = c.revision_id
            JOIN tag t ON t.id = rt.tag_id
            WHERE c.status IN ('active', 'needs_reverification') AND t.name = :topic""", soon=soon, topic=topic)
        assert counts == expected
    assert by_topic == {"billing": (6, 0, 1), "shipping": (3, 1, 0)}


def test_flag_counts_by_reason_match_the_database(world):
    report = report_of(world)
    p = report.period
    rows = query(world.db, """
        SELECT reason, SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END),
               SUM(CASE WHEN created_at >= :since AND created_at < :until THEN 1 ELSE 0 END)
        FROM flag GROUP BY reason""", since=p.since, until=p.until)
    got = {f.reason: (f.open, f.raised) for f in report.flags}
    assert {r: c for r, c in got.items() if c != (0, 0)} == {reason: (o, r) for reason, o, r in rows}
    assert got == {"outdated": (2, 2), "incorrect": (0, 1), "unclear": (1, 0), "duplicate": (0, 0)}


# --- reuse, contributors ----------------------------------------------------------------------


def test_reuse_rate_matches_the_database(world):
    report = report_of(world)
    p = report.period
    reuse = report.reuse
    # A search is followed by a reuse when the same person recorded one before their next search.
    ((searches, followed),) = query(world.db, """
        SELECT COUNT(*), SUM(CASE WHEN EXISTS (
            SELECT 1 FROM reuse u WHERE u.user_id = s.user_id AND u.created_at >= s.created_at
              AND u.created_at < :until
              AND NOT EXISTS (SELECT 1 FROM search_log n WHERE n.user_id = s.user_id
                              AND (n.created_at > s.created_at OR (n.created_at = s.created_at AND n.id > s.id))
                              AND n.created_at <= u.created_at)) THEN 1 ELSE 0 END)
        FROM search_log s WHERE s.created_at >= :since AND s.created_at < :until""", since=p.since, until=p.until)
    assert (reuse.searches, reuse.searches_followed_by_reuse) == (searches, followed) == (8, 2)
    assert reuse.search_reuse_rate == 0.25
    ((reuses, of_certified, entries, certified),) = query(world.db, """
        SELECT COUNT(*),
               SUM(CASE WHEN c.entry_id IS NOT NULL THEN 1 ELSE 0 END), COUNT(DISTINCT c.entry_id),
               (SELECT COUNT(*) FROM certification WHERE status IN ('active', 'needs_reverification'))
        FROM reuse u LEFT JOIN certification c
          ON c.entry_id = u.entry_id AND c.status IN ('active', 'needs_reverification')
        WHERE u.created_at >= :since AND u.created_at < :until""", since=p.since, until=p.until)
    assert (reuse.reuses, reuse.reuses_of_certified, reuse.certified_entries_reused, reuse.certified_entries) == (
        reuses, of_certified, entries, certified) == (3, 3, 3, 8)
    assert reuse.reuses_per_certified_entry == pytest.approx(3 / 8)


def test_top_contributors_are_ranked_by_reputation_points_in_the_period(world):
    report = report_of(world)
    p = report.period
    rows = query(world.db, """
        SELECT u.display_name, SUM(r.points), COUNT(*) FROM reputation_event r
        JOIN user_account u ON u.id = r.user_id
        WHERE r.created_at >= :since AND r.created_at < :until GROUP BY u.display_name""",
                 since=p.since, until=p.until)
    assert {c.name: (c.points, c.events) for c in report.contributors} == {n: (s, c) for n, s, c in rows}
    assert [c.points for c in report.contributors] == sorted((c.points for c in report.contributors), reverse=True)
    # The points inserted here count (others come from the reputation rules' reactions).
    names = [c.name for c in report.contributors]
    assert {"Ada Author", "Eve Expert", "Agent One"} <= set(names) and "Bo Writer" not in names


def test_a_longer_period_includes_older_activity(world):
    report = health.dashboard(session=world.db, actor=world.expert, days=90, until=world.now)
    assert "warranty" in {f.normalised for f in report.failed_searches}
    shipping = next(r for r in report.time_to_certify if r.topic == "shipping")
    assert shipping.certified == 3  # A8, certified 75 days ago, now counts
    assert "Bo Writer" in {c.name for c in report.contributors}  # 50 points 40 days ago


# --- who may look, and the period -------------------------------------------------------------


def test_only_experts_and_administrators_see_the_dashboard(db):
    agent, author = make_user(db, "agent", name="Al Agent"), make_user(db, "author", name="Au Thor")
    admin = make_user(db, "admin", name="Ad Min")
    for user in (agent, author):
        with pytest.raises(Forbidden):
            health.dashboard(session=db, actor=user, days=30)
    empty = health.dashboard(session=db, actor=admin, days=7)
    assert empty.failed_searches == [] and empty.backlog.total == 0 and empty.reuse.search_reuse_rate == 0
    assert len(empty.searches_per_day) == 8 and empty.certifications[-1].live == 0


@pytest.mark.parametrize("days", ["5", "abc", "-30", "365"])
def test_an_unknown_period_is_refused_with_a_sentence(days):
    with pytest.raises(ValidationFailed, match="Choose a period of 7, 30 or 90 days"):
        health.parse_days(days)
