"""Helpers for tests that act like a browser or an API client."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
PASSWORD = "correct-horse-battery"

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


def form_post(client: TestClient, path: str, data: dict | None = None, *, page: str = "/", **kwargs):
    """POST a form the way a browser does: with the CSRF token from a page of the site."""
    token = csrf_from(client.get(page).text)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False, **kwargs)


def api_token_for(db, user) -> str:
    from kb.accounts import service as accounts
    from kb.accounts.schemas import TokenCreate

    _, raw = accounts.create_api_token(session=db, actor=user, user=user, data=TokenCreate(name="test"))
    db.commit()
    return raw


def rows(db, model, **filters) -> list:
    """All rows of a table matching equality filters, read fresh from the database, in the order they
    were written (primary key: without ORDER BY, PostgreSQL returns rows in whatever order its heap
    holds them, which after the per-test DELETE cleanup is not the insertion order)."""
    from sqlmodel import select

    db.commit()  # ends the session's snapshot (SQLite WAL readers otherwise see old data)
    db.expire_all()  # the factory keeps objects after commit; read them again
    statement = select(model)
    for name, value in filters.items():
        statement = statement.where(getattr(model, name) == value)
    return list(db.exec(statement.order_by(*model.__table__.primary_key.columns)))


@contextmanager
def serving(app):
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound before the thread starts: no race for the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)  # off the main thread it installs no signal handlers
    errors: list[BaseException] = []

    def run():
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"kb-live-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if errors or not thread.is_alive():
            sock.close()
            pytest.fail(f"the test server did not start: {errors[0] if errors else 'thread ended'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            pytest.fail("the test server did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "the test server did not stop within 10 s"


class CpuBudgetExceeded(AssertionError):
    pass


# CPU seconds of ``_calibration_work`` on an unloaded machine of the kind CI runs on (2-core x86_64).
CALIBRATION_SECONDS = 0.03
# However slow the machine seems, a budget grows at most this much: quadratic work at the sizes the
# tests use costs a hundred times its budget or more, so it still fails.
MAX_SLOWDOWN = 4.0


def _calibration_work() -> int:
    table = {}
    for i in range(60_000):
        text_ = str(i)
        table[text_] = text_.upper() + "-" + text_[::-1]
    return len(table)


def machine_slowdown() -> float:
    """How much slower than unloaded this process computes right now (1.0 at best, MAX_SLOWDOWN at most).

    CPU time is not wall time, but it is not constant either: on a shared machine with busy sibling
    hyperthreads (CI runs two test workers beside Chromium, PostgreSQL and Meilisearch), the same
    Python work was measured at three times its CPU time. A fixed workload timed just before the
    block tells how much, so a budget holds the same work to the same bound on a busy machine."""
    runs = []
    for _ in range(2):
        start = time.process_time()
        _calibration_work()
        runs.append(time.process_time() - start)
    return min(MAX_SLOWDOWN, max(1.0, sum(runs) / len(runs) / CALIBRATION_SECONDS))


@contextmanager
def cpu_budget(seconds: float, what: str = "the work"):
    """Fail as soon as the process has spent ``seconds`` of CPU time inside the block.

    ``seconds`` is as measured on an unloaded machine: the budget is scaled by ``machine_slowdown()``,
    measured just before. CPU time, not wall time, so waiting for the CPU does not count; and the block
    is interrupted (SIGPROF), so a quadratic regression fails in seconds instead of running for minutes.

    Give about four times what the block costs unloaded: the load of a busy machine changes within the
    block too (a render of 0.45 s was cut off at 1.2 s in CI), and quadratic work at the sizes the tests
    use costs a hundred times its linear cost, so it still fails."""
    import signal

    slowdown = machine_slowdown()
    allowed = seconds * slowdown

    def _exceeded(signum, frame):
        raise CpuBudgetExceeded(f"{what} used more than {seconds} s of CPU time "
                                f"({allowed:.2f} s allowed on this machine, {slowdown:.1f}x slower than unloaded)")

    previous = signal.signal(signal.SIGPROF, _exceeded)
    signal.setitimer(signal.ITIMER_PROF, allowed)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def fresh_postgres_database(request, prefix: str = "kb_test") -> str:
    """The URL of a new, empty database on TEST_DATABASE_URL's server, dropped at the end of ``request``."""
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    request.addfinalizer(drop)
    return base.set(database=name).render_as_string(hide_password=False)


def share_expertise_scores(db, user_ids) -> None:
    """Hand the expertise scores a test arranged directly to workflow, as ``expertise.scores`` does
    each time it stores them (workflow qualifies reviewers by its own copy)."""
    from sqlmodel import select

    from expertise.models import ExpertiseScore
    from workflow import reviewer_scores

    db.flush()
    held = db.exec(select(ExpertiseScore).where(ExpertiseScore.user_id.in_(list(user_ids)))).all()
    reviewer_scores.record(session=db, user_ids=user_ids, scores={(r.user_id, r.tag_id): r.score for r in held})


# --- data loaded once per test process ------------------------------------------------------------

_LOADED: dict[tuple[str, str], tuple[object, dict]] = {}


def loaded_once(db, name: str, load):
    """``load()`` fills the test's empty database through kb's services (the demo data takes tens of
    seconds); the first test of this process that asks for ``name`` on this database runs it, and
    the process keeps a copy of every row it left (and the id counters). Later tests get those rows
    copied in, in well under a second: the same database, row for row and id for id, as ``load()``
    would have made. Returns what ``load()`` returned (plain data, not rows of a session)."""
    engine = db.get_bind()
    key = (engine.url.render_as_string(hide_password=False), name)
    if key in _LOADED:
        result, snapshot = _LOADED[key]
        _restore(engine, snapshot)
        db.expire_all()
        return result
    result = load()
    db.commit()
    _LOADED[key] = (result, _capture(engine))
    return result


def _capture(engine) -> dict:
    from kb.db import metadata

    with engine.connect() as conn:
        tables = {table.name: [dict(row._mapping) for row in conn.execute(table.select())]
                  for table in metadata.sorted_tables}
        if engine.dialect.name == "postgresql":
            counters = conn.exec_driver_sql("SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences").all()
        else:
            has = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first()
            counters = conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all() if has else []
    return {"tables": tables, "counters": [tuple(c) for c in counters]}


def _restore(engine, snapshot: dict) -> None:
    from kb.db import metadata

    with engine.begin() as conn:
        postgres = engine.dialect.name == "postgresql"
        # Rows go in as they were: no foreign-key order to respect (entry and revision name each other).
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica" if postgres else "PRAGMA defer_foreign_keys=ON")
        for table in metadata.sorted_tables:
            rows = snapshot["tables"][table.name]
            if rows:
                conn.execute(table.insert(), rows)
        for name, value in snapshot["counters"]:
            if postgres:
                if value is not None:
                    conn.execute(text("SELECT setval(CAST(:name AS regclass), :value, true)"), {"name": name, "value": value})
            else:
                conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :name"), {"name": name})
                conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :value)"),
                             {"name": name, "value": value})


def load_demo_states(db) -> None:
    """The demo accounts, content and workflow history (``kb demo`` without ratings and synonyms)."""
    from kb.demo_accounts_and_content import load_demo_accounts, load_demo_content
    from workflow.demo_states import load_demo_workflow

    load_demo_accounts(session=db)
    load_demo_content(session=db)
    load_demo_workflow(session=db)


def load_demo_with_ratings(db):
    """The demo states and the demo's votes, case links, endorsements and scores; returns the ratings report."""
    from expertise.demo_ratings import load_demo_expertise

    load_demo_states(db)
    return load_demo_expertise(session=db)
