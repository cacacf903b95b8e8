"""Racing transitions: many requests on one revision at the same moment, each in its own transaction.

PostgreSQL runs the full-size race (20 threads, row locks + conditional updates); SQLite, whose
writers take the database lock up front (BEGIN IMMEDIATE via ``kb.db.writer``), runs a smaller one.
Whatever the interleaving, the result must be one consistent story: one winner per state change,
an audit event for every success and for nothing else, and no database error reaching the caller.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from kb.accounts.models import User
from kb.content.models import Entry, Revision, RevisionState
from kb.db import make_engine, session_factory, writer
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound
from workflow import service as wf_service
from workflow.models import Action, Certification, Review, WorkflowEvent

S = RevisionState
# InvalidTransition is a Conflict too. NotFound: once the author withdrew the revision, experts may no
# longer see it (kb.content.access), so their racing requests get 404 rather than 409; checked below.
EXPECTED_REFUSALS = (InvalidTransition, Forbidden, Conflict, NotFound)
FULL = {"threads": 20, "rounds": 5}
SMALL = {"threads": 8, "rounds": 3}
JOIN_TIMEOUT = 60


@dataclass
class Attempt:
    action: Action
    user_id: int
    outcome: str = "not run"  # "ok", the domain error's class name, or "UNEXPECTED ..."


@pytest.fixture
def racing_engine(engine, db):
    """An engine on the same database with a pool big enough for every thread to hold a connection
    at once (the default pool of 5+10 would queue threads and hide the race)."""
    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=FULL["threads"] + 2,
                      max_overflow=4)
    yield eng
    eng.dispose()


def _race(eng: Engine, revision_id: int, attempts: list[Attempt], comment: str = "") -> list[Attempt]:
    """Run every attempt in its own thread and transaction, all released at the same moment."""
    factory = session_factory(writer(eng))
    barrier = threading.Barrier(len(attempts))

    def worker(attempt: Attempt) -> None:
        session = factory()
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            actor = session.get(User, attempt.user_id)
            wf_service.transition(session=session, actor=actor, revision_id=revision_id, action=attempt.action,
                                  comment=comment)
            session.commit()
            attempt.outcome = "ok"
        except EXPECTED_REFUSALS as exc:
            session.rollback()
            attempt.outcome = type(exc).__name__
        except BaseException as exc:  # noqa: BLE001 - everything else is a finding
            session.rollback()
            attempt.outcome = f"UNEXPECTED {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(a,), name=f"{a.action.value}-{a.user_id}") for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racing transition hung"
    return attempts


def _setup(db, wf, *, experts: int, required_approvals: int):
    author = wf.user(db, "author", name="author")
    admin = wf.user(db, "admin", name="admin")
    reviewers = [wf.user(db, "expert", name=f"expert{i}") for i in range(experts)]
    for user in reviewers:
        wf.designate(db, user, wf.TAG, by=admin)
    wf.policy(db, required_approvals=required_approvals)
    db.commit()
    return author, reviewers


def _submitted_article(db, wf, author, round_no: int) -> tuple[Entry, Revision]:
    entry = wf.article(db, author, title=f"Race {round_no}")
    revision = db.get(Revision, entry.latest_revision_id)
    wf.act(db, author, revision, Action.submit)
    db.commit()
    return entry, revision


def _replay(events: list[WorkflowEvent]) -> str:
    state = S.draft.value
    for event in events:
        assert event.from_state == state, f"audit trail jumps: {state} then an event from {event.from_state}"
        state = event.to_state
    return state


def _check_round(db, entry: Entry, revision: Revision, attempts: list[Attempt], *, setup_events: int) -> str:
    unexpected = [a for a in attempts if a.outcome.startswith("UNEXPECTED") or a.outcome == "not run"]
    assert unexpected == [], f"errors that must not reach the caller: {unexpected}"
    db.expire_all()
    revision = db.exec(select(Revision).where(Revision.id == revision.id)).one()
    entry = db.exec(select(Entry).where(Entry.id == entry.id)).one()
    wins = Counter(a.action for a in attempts if a.outcome == "ok")
    events = list(db.exec(select(WorkflowEvent).where(WorkflowEvent.revision_id == revision.id)
                          .order_by(WorkflowEvent.id)))

    assert len(events) == setup_events + sum(wins.values()), (
        f"{len(events)} audit events for {setup_events} setup steps and {dict(wins)} successful transitions")
    assert Counter(Action(e.action) for e in events[setup_events:]) == wins
    assert _replay(events) == revision.state, "the audit trail does not lead to the revision's state"
    assert revision.state in (S.approved.value, S.certified.value, S.withdrawn.value), revision.state
    hidden = [a for a in attempts if a.outcome == "NotFound"]
    assert not hidden or revision.state == S.withdrawn.value, f"NotFound while the revision is visible: {hidden}"
    assert wins[Action.approve] <= 1 and wins[Action.certify] <= 1 and wins[Action.withdraw] <= 1, dict(wins)
    assert sum(1 for e in events if e.action == Action.approve.value and e.to_state == S.approved.value) <= 1
    approvals = list(db.exec(select(Review.reviewer_id).where(Review.revision_id == revision.id)))
    assert len(approvals) == wins[Action.approve], f"reviews {approvals} for {wins[Action.approve]} approvals"

    cert = db.get(Certification, entry.id)
    if revision.state == S.certified.value:
        assert wins[Action.certify] == 1
        assert entry.certified_revision_id == revision.id
        assert cert is not None and cert.revision_id == revision.id
    else:
        assert wins[Action.certify] == 0
        assert entry.certified_revision_id is None
        assert cert is None
    return revision.state


def _approve_certify_withdraw(racing_engine, db, wf, *, threads: int, rounds: int) -> Counter:
    experts = max(2, (threads * 2) // 5)
    author, reviewers = _setup(db, wf, experts=experts, required_approvals=1)
    finals: Counter = Counter()
    for round_no in range(rounds):
        entry, revision = _submitted_article(db, wf, author, round_no)
        # 2/5 approve (distinct experts), 2/5 certify (topic experts), 1/5 withdraw (the author).
        plan = []
        for i in range(threads):
            kind = i % 5
            if kind in (0, 1):
                plan.append(Attempt(Action.approve, reviewers[(i // 5 * 2 + kind) % experts].id))
            elif kind in (2, 3):
                plan.append(Attempt(Action.certify, reviewers[(i + round_no) % experts].id))
            else:
                plan.append(Attempt(Action.withdraw, author.id))
        attempts = _race(racing_engine, revision.id, plan)
        finals[_check_round(db, entry, revision, attempts, setup_events=1)] += 1
    return finals


def _two_approvals_at_once(racing_engine, db, wf, *, rounds: int) -> None:
    author, reviewers = _setup(db, wf, experts=2, required_approvals=2)
    for round_no in range(rounds):
        entry, revision = _submitted_article(db, wf, author, round_no)
        attempts = _race(racing_engine, revision.id, [Attempt(Action.approve, r.id) for r in reviewers])
        assert [a.outcome for a in attempts] == ["ok", "ok"], attempts
        db.expire_all()
        assert wf.state(db, revision.id) == S.approved.value
        assert wf.reviews(db, revision.id) == sorted((r.id, "approve") for r in reviewers)
        approve_events = [e for e in wf.events(db, revision_id=revision.id) if e[4] == "approve"]
        assert [(e[5], e[6]) for e in approve_events] == [("in_review", "in_review"), ("in_review", "approved")]
        assert "1 of 2" in approve_events[0][7]


def _same_reviewer_twice(racing_engine, db, wf, *, rounds: int) -> None:
    """One expert double-clicks approve (two requests at once) with two approvals required: it counts once."""
    author, reviewers = _setup(db, wf, experts=1, required_approvals=2)
    for round_no in range(rounds):
        entry, revision = _submitted_article(db, wf, author, round_no)
        attempts = _race(racing_engine, revision.id, [Attempt(Action.approve, reviewers[0].id) for _ in range(2)])
        outcomes = sorted(a.outcome for a in attempts)
        assert outcomes in (["Forbidden", "ok"], ["Conflict", "ok"]), attempts
        db.expire_all()
        assert wf.state(db, revision.id) == S.in_review.value
        assert wf.reviews(db, revision.id) == [(reviewers[0].id, "approve")]
        assert len(wf.events(db, revision_id=revision.id)) == 2  # submit + one approval


# --- PostgreSQL: the full-size race --------------------------------------------------------------

NEEDS_PG = "the 20-thread race needs PostgreSQL: set TEST_DATABASE_URL (SQLite runs the smaller version)"


def _only(engine, dialect: str) -> None:
    if engine.dialect.name != dialect:
        pytest.skip(NEEDS_PG if dialect == "postgresql" else "the smaller SQLite race; PostgreSQL runs the full one")


def test_racing_approve_certify_withdraw_postgresql(engine, racing_engine, db, wf):
    _only(engine, "postgresql")
    finals = _approve_certify_withdraw(racing_engine, db, wf, **FULL)
    assert sum(finals.values()) == FULL["rounds"]


def test_two_reviewers_approving_at_once_postgresql(engine, racing_engine, db, wf):
    _only(engine, "postgresql")
    _two_approvals_at_once(racing_engine, db, wf, rounds=FULL["rounds"])


def test_same_reviewer_approving_twice_at_once_postgresql(engine, racing_engine, db, wf):
    _only(engine, "postgresql")
    _same_reviewer_twice(racing_engine, db, wf, rounds=FULL["rounds"])


# --- SQLite: writers serialise on BEGIN IMMEDIATE; a smaller race ---------------------------------


def test_racing_approve_certify_withdraw_sqlite(engine, racing_engine, db, wf):
    _only(engine, "sqlite")
    finals = _approve_certify_withdraw(racing_engine, db, wf, **SMALL)
    assert sum(finals.values()) == SMALL["rounds"]


def test_two_reviewers_approving_at_once_sqlite(engine, racing_engine, db, wf):
    _only(engine, "sqlite")
    _two_approvals_at_once(racing_engine, db, wf, rounds=SMALL["rounds"])


def test_same_reviewer_approving_twice_at_once_sqlite(engine, racing_engine, db, wf):
    _only(engine, "sqlite")
    _same_reviewer_twice(racing_engine, db, wf, rounds=SMALL["rounds"])
