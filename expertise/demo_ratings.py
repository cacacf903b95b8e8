"""Demo ratings and expertise: front-line agents vote on and reuse certified answers, search
(some searches find nothing: the content gaps), endorse colleagues and declare interests; then
every expertise score is computed. Runs after the demo content and workflow history.

Everything goes through the services (votes, reuse, endorsements, the query log), at plausible
moments in the past, so reputation, scores and the knowledge-health dashboard show real numbers.
The choices are pseudo-random with a fixed seed: every demo looks the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.clock import travel, utcnow
from kb.content.models import Entry, EntryKind, Revision
from kb.demo_accounts_and_content import DEMO_AGENTS, load_demo_agents
from expertise import people, ratings, scores
from expertise.models import ReuseSource, Vote
from search import querylog
from workflow.models import Notification

SEED = 20261125
VOTERS = ("agent@example.com", "author@example.com", *(email for email, _, _ in DEMO_AGENTS))
# What agents searched for and did not find: the gaps the dashboard should show on first start.
GAP_SEARCHES = (
    ("gift card balance", 6),
    ("chargeback dispute", 5),
    ("invoice in french", 4),
    ("loyalty points expired", 3),
    ("change delivery address after dispatch", 3),
    ("warranty claim for a broken charger", 2),
)
# Endorsements: (colleague, endorsed specialist, topic).
ENDORSEMENTS = (
    ("lee.chen@example.com", "maria.lopez@example.com", "refunds"),
    ("ana.silva@example.com", "maria.lopez@example.com", "billing"),
    ("tom.becker@example.com", "sam.okafor@example.com", "shipping"),
    ("noor.haddad@example.com", "sam.okafor@example.com", "returns"),
    ("jonas.berg@example.com", "priya.nair@example.com", "passwords"),
    ("agent@example.com", "priya.nair@example.com", "account-access"),
)
INTERESTS = {
    "lee.chen@example.com": ("refunds", "billing"),
    "ana.silva@example.com": ("shipping",),
    "noor.haddad@example.com": ("privacy", "account-access"),
}


@dataclass
class DemoExpertiseReport:
    votes: int = 0
    reuses: int = 0
    searches: int = 0
    endorsements: int = 0
    scores: int = 0
    skipped: bool = False


def load_demo_expertise(*, session: Session) -> DemoExpertiseReport:
    """Idempotent: does nothing when any vote exists already."""
    report = DemoExpertiseReport()
    if session.exec(select(Vote.id)).first() is not None:
        report.skipped = True
        return report
    load_demo_agents(session=session)
    rng = random.Random(SEED)
    voters = [u for u in (accounts.find_user_by_email(session=session, email=e) for e in VOTERS) if u]
    certified = list(session.exec(
        select(Entry).where(Entry.certified_revision_id.is_not(None),
                            Entry.kind.in_((EntryKind.article.value, EntryKind.answer.value)))
        .order_by(Entry.id)))
    for index, entry in enumerate(certified):
        votes, reuses = _rate(session, rng, entry, voters, liked=index % 6 != 5)
        report.votes += votes
        report.reuses += reuses
    report.searches = _search_history(session, rng, voters, certified)
    report.endorsements = _endorse(session)
    report.scores = scores.recompute_all(session=session)
    _read_old_notifications(session)
    return report


def _read_old_notifications(session: Session) -> None:
    """People read their inbox: what the months of demo history sent them before the last few
    days is marked read, so a first start shows a realistic handful of unread notifications."""
    cutoff = utcnow() - timedelta(days=3)
    session.execute(update(Notification).where(Notification.read_at.is_(None), Notification.created_at < cutoff)
                    .values(read_at=cutoff))


def _moment_after(rng: random.Random, start: datetime) -> datetime:
    """A moment between ``start`` (plus an hour) and yesterday."""
    end = utcnow() - timedelta(days=1)
    start = min(start + timedelta(hours=1), end)
    return start + (end - start) * rng.random()


def _rate(session: Session, rng: random.Random, entry: Entry, voters: list[User], *, liked: bool) -> tuple[int, int]:
    """Votes (mostly helpful, except on the entries people did not like) and case links."""
    revision = session.get(Revision, entry.certified_revision_id)
    crowd = [u for u in voters if u.id != revision.author_id and u.id != entry.author_id]
    chosen = rng.sample(crowd, k=rng.randint(2, min(7, len(crowd))))
    for voter in chosen:
        helpful = rng.random() < (0.9 if liked else 0.35)
        with travel(_moment_after(rng, revision.created_at)):
            ratings.vote(session=session, entry=entry, actor=voter,
                         value=ratings.HELPFUL if helpful else ratings.NOT_HELPFUL)
    # One case is one reuse: a click that lands on a case already linked counts once (record_reuse
    # returns that case's reuse), so the report counts the distinct reuses, as the summary does.
    cases = set()
    for _ in range(rng.randint(0, 5) if liked else rng.randint(0, 1)):
        with travel(_moment_after(rng, revision.created_at)):
            cases.add(ratings.record_reuse(session=session, entry=entry, actor=rng.choice(crowd),
                                           case_ref=f"CS-{rng.randint(40000, 49999)}" if rng.random() < 0.7 else "",
                                           source=rng.choice((ReuseSource.search, ReuseSource.entry))).id)
    return len(chosen), len(cases)


def _search_history(session: Session, rng: random.Random, voters: list[User], certified: list[Entry]) -> int:
    """Searches of the last four weeks, logged in time order: most found an answer that was
    opened, some found nothing."""
    planned: list[tuple[datetime, User, str, Entry | None]] = []
    articles = [e for e in certified if e.kind == EntryKind.article.value]
    for entry in rng.sample(articles, k=min(25, len(articles))):
        title = session.get(Revision, entry.certified_revision_id).title.lower()
        words = [w for w in title.replace("'", " ").split() if len(w) > 3][:3]
        for _ in range(rng.randint(1, 4)):
            planned.append((utcnow() - timedelta(days=rng.uniform(0.2, 28)), rng.choice(voters),
                            " ".join(words) or title, entry))
    for query, times in GAP_SEARCHES:
        for _ in range(times):
            planned.append((utcnow() - timedelta(days=rng.uniform(0.2, 28)), rng.choice(voters), query, None))
    for moment, user, query, opened in sorted(planned, key=lambda p: p[0]):
        with travel(moment):
            row = querylog.log_search(session=session, user_id=user.id, query=query,
                                      result_count=rng.randint(1, 9) if opened else 0)
            if opened is not None and row is not None and rng.random() < 0.8:
                querylog.log_click(session=session, user_id=user.id, search_id=row.id, entry_id=opened.id,
                                   rank=rng.choice((1, 1, 1, 2, 3)))
    return len(planned)


def _endorse(session: Session) -> int:
    def user(email: str) -> User:
        return accounts.find_user_by_email(session=session, email=email)

    for endorser, specialist, topic in ENDORSEMENTS:
        people.endorse(session=session, actor=user(endorser), user=user(specialist), topic=topic)
    for email, topics in INTERESTS.items():
        for topic in topics:
            people.declare_interest(session=session, actor=user(email), topic=topic)
    return len(ENDORSEMENTS)

