"""Account rules that must hold when requests race: sign-in throttling, the last administrator.

Every attempt runs in its own thread and writing transaction, all released at the same moment by a
barrier (like tests/workflow/test_concurrency.py). PostgreSQL runs the full-size race; SQLite,
whose writers take the database lock up front, a smaller one.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.models import Role, User, UserRole
from kb.accounts.schemas import UserCreate
from kb.db import make_engine, session_factory, writer
from kb.errors import Conflict, Forbidden, Throttled, Unauthorized
from tests.helpers import PASSWORD
from kb.accounts.actors import SYSTEM

JOIN_TIMEOUT = 120
MAX_FAILURES = 5
# 30 connections at once: enough to show the race (before the fix all 30 wrong passwords were
# checked), while two test workers racing at the same time stay under PostgreSQL's 100 connections.
BURST = 30


@pytest.fixture
def racing_engine(engine, db):
    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=BURST + 2, max_overflow=4)
    yield eng
    eng.dispose()


def _race(eng, jobs) -> list[str]:
    """Run each job(session) in its own thread and transaction; the outcome of each, in order."""
    factory = session_factory(writer(eng))
    barrier = threading.Barrier(len(jobs))
    outcomes = ["not run"] * len(jobs)

    def worker(i, job):
        session = factory()
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[i] = job(session)
            session.commit()  # a throttled or refused attempt commits what it recorded, like the login page
        except (Throttled, Unauthorized, Conflict, Forbidden) as exc:
            session.commit()
            outcomes[i] = type(exc).__name__
        except BaseException as exc:  # noqa: BLE001 - anything else is a finding
            session.rollback()
            outcomes[i] = f"UNEXPECTED {type(exc).__name__}: {str(exc)[:200]}"
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racing attempt hung"
    return outcomes


def _user(db, *roles: str, email: str) -> User:
    user = accounts.create_user(session=db, actor=SYSTEM, data=UserCreate(
        email=email, display_name=email.split("@")[0], roles=[Role(r) for r in roles], password=PASSWORD))
    db.commit()
    return user


def _attempt(email: str, password: str, ip: str = "10.0.0.1", max_failures: int = MAX_FAILURES):
    def job(session):
        accounts.authenticate(session=session, email=email, password=password, ip=ip,
                              max_failures=max_failures, lockout_minutes=15)
        return "ok"
    return job


def test_a_burst_of_wrong_passwords_is_evaluated_only_up_to_the_limit(racing_engine, db):
    """Before: every one of 30 (or 50) parallel wrong passwords on PostgreSQL was checked (401), not 5."""
    user = _user(db, "agent", email="burst@example.com")
    size = BURST if db.get_bind().dialect.name == "postgresql" else 12
    outcomes = _race(racing_engine, [_attempt(user.email, "wrong-password") for _ in range(size)])
    counts = Counter(outcomes)
    assert set(counts) <= {"Unauthorized", "Throttled"}, counts
    assert counts["Unauthorized"] == MAX_FAILURES, counts
    # The right password after the burst waits too.
    with session_factory(writer(racing_engine))() as session, pytest.raises(Throttled):
        _attempt(user.email, PASSWORD)(session)


def test_the_right_password_inside_a_burst_does_not_get_through(racing_engine, db):
    """A right password raced against many wrong ones succeeds only if it came among the first
    MAX_FAILURES attempts; whatever happens, at most MAX_FAILURES attempts are evaluated."""
    user = _user(db, "agent", email="inside@example.com")
    size = BURST if db.get_bind().dialect.name == "postgresql" else 12
    jobs = [_attempt(user.email, "wrong-password") for _ in range(size)]
    jobs.insert(size // 2, _attempt(user.email, PASSWORD))
    outcomes = _race(racing_engine, jobs)
    counts = Counter(outcomes)
    assert set(counts) <= {"Unauthorized", "Throttled", "ok"}, counts
    # A success resets the count: fewer than MAX_FAILURES failures before it, up to MAX_FAILURES after.
    assert counts["Unauthorized"] <= MAX_FAILURES * (2 if counts["ok"] else 1), counts


def test_an_address_is_throttled_across_emails_under_a_burst(racing_engine, db):
    """An address may fail four times as often as one email (SQLite: a smaller limit and burst, since
    its writers, password checks included, queue on one lock)."""
    postgres = db.get_bind().dialect.name == "postgresql"
    size, max_failures = (BURST, MAX_FAILURES) if postgres else (12, 2)
    outcomes = _race(racing_engine, [_attempt(f"nobody{i}@example.com", "wrong", ip="10.9.9.9",
                                              max_failures=max_failures) for i in range(size)])
    counts = Counter(outcomes)
    assert set(counts) <= {"Unauthorized", "Throttled"}, counts
    assert counts["Unauthorized"] == max_failures * 4, counts


def _active_admins(eng) -> list[int]:
    with session_factory(eng)() as session:
        return list(session.exec(select(User.id).join(UserRole, UserRole.user_id == User.id)
                                 .where(UserRole.role == Role.admin.value, User.is_active.is_(True))))


def _demote(actor_id: int, target_id: int):
    def job(session):
        actor, target = session.get(User, actor_id), session.get(User, target_id)
        accounts.set_roles(session=session, actor=actor, user=target, roles=[Role.agent])
        return "ok"
    return job


def _deactivate(actor_id: int, target_id: int):
    def job(session):
        actor, target = session.get(User, actor_id), session.get(User, target_id)
        accounts.deactivate_user(session=session, actor=actor, user=target)
        return "ok"
    return job


@pytest.mark.parametrize("how", [(_demote, _demote), (_deactivate, _deactivate), (_demote, _deactivate)],
                         ids=["demote-demote", "deactivate-deactivate", "demote-deactivate"])
def test_two_admins_removing_each_other_at_once_leave_one(racing_engine, db, how):
    """Before: both requests succeeded and kb had no active administrator left."""
    rounds = 5 if db.get_bind().dialect.name == "postgresql" else 2
    for i in range(rounds):
        a = _user(db, "admin", email=f"admin-a{i}-{how[0].__name__}{how[1].__name__}@example.com")
        b = _user(db, "admin", email=f"admin-b{i}-{how[0].__name__}{how[1].__name__}@example.com")
        others = [uid for uid in _active_admins(racing_engine) if uid not in (a.id, b.id)]
        for uid in others:  # only a and b are administrators in this round
            with session_factory(writer(racing_engine))() as session:
                session.exec(UserRole.__table__.delete().where(UserRole.user_id == uid,
                                                               UserRole.role == Role.admin.value))
                session.commit()
        outcomes = _race(racing_engine, [how[0](a.id, b.id), how[1](b.id, a.id)])
        # The loser is refused: no administrator would be left (Conflict), or it is no longer one (Forbidden).
        assert sorted(outcomes) in (["Conflict", "ok"], ["Forbidden", "ok"]), outcomes
        assert len(_active_admins(racing_engine)) == 1


def test_the_last_administrator_cannot_be_demoted_or_deactivated_from_the_command_line(db):
    only = _user(db, "admin", email="only-admin@example.com")
    with pytest.raises(Conflict, match="at least one active administrator"):
        accounts.set_roles(session=db, actor=SYSTEM, user=only, roles=[Role.agent])
    db.rollback()
    with pytest.raises(Conflict, match="at least one active administrator"):
        accounts.deactivate_user(session=db, actor=SYSTEM, user=only)
    db.rollback()
