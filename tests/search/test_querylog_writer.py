"""The query log written in batches off the request path: nothing is written while a person waits,
nothing is lost on a clean shutdown or while the database is away, and clicks find their search."""

from __future__ import annotations

import time
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlmodel import select

from kb.db import unit_of_work
from search.models import SearchClick, SearchLog
from search.querylog_writer import QueryLogWriter
from tests.helpers import login, rows


def _app(engine, settings, seconds: float):
    from web.app import create_app

    return create_app(settings=settings.model_copy(update={"query_log_seconds": seconds}), engine=engine)


def test_searches_are_written_after_the_response_and_all_of_them_on_shutdown(engine, db, settings, make_user):
    agent = make_user("agent")
    with TestClient(_app(engine, settings, 3600), base_url="http://testserver") as client:
        login(client, agent.email)
        for typed in ("pas", "passw", "password reset"):  # as the agent types
            assert client.get(f"/search?q={typed}", headers={"HX-Request": "true"}).status_code == 200
        client.get("/search?q=teleportation")
        db.expire_all()
        assert rows(db, SearchLog) == []  # the responses did not wait for the log
    db.expire_all()  # the app shut down cleanly: what was in memory is written
    logged = sorted(rows(db, SearchLog, user_id=agent.id), key=lambda r: r.id)
    assert [r.normalised for r in logged] == ["password reset", "teleportation"]  # refinements merged
    assert all(r.key for r in logged)


def test_the_writing_thread_writes_within_its_interval(engine, db, settings, make_user):
    agent = make_user("agent")
    with TestClient(_app(engine, settings, 0.05), base_url="http://testserver") as client:
        login(client, agent.email)
        client.get("/search?q=refund+policy")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.expire_all()
            if rows(db, SearchLog):
                break
            time.sleep(0.05)
        assert [r.normalised for r in rows(db, SearchLog)] == ["refund policy"]


def test_a_click_on_someone_elses_search_is_ignored(engine, db, make_user):
    owner, other = make_user("agent"), make_user("agent")
    writer = QueryLogWriter(lambda: unit_of_work(engine), batch_seconds=3600)
    key = writer.search(user_id=owner.id, query="gift card", result_count=3)
    writer.click(user_id=other.id, search_key=key, entry_id=1, rank=1)
    writer.close()
    db.expire_all()
    assert len(rows(db, SearchLog)) == 1 and rows(db, SearchClick) == []


def test_a_batch_the_database_refuses_is_kept_and_written_later(engine, db, make_user):
    agent = make_user("agent")
    down = {"now": True}

    @contextmanager
    def sessions():
        if down["now"]:
            raise ConnectionError("the database is restarting")
        with unit_of_work(engine) as session:
            yield session

    writer = QueryLogWriter(sessions, batch_seconds=3600)
    key = writer.search(user_id=agent.id, query="lost parcel", result_count=2)
    writer.click(user_id=agent.id, search_key=key, entry_id=5, rank=1)
    assert writer.flush() == 0  # refused: kept
    down["now"] = False
    writer.close()
    db.expire_all()
    assert [r.normalised for r in rows(db, SearchLog)] == ["lost parcel"]
    assert [c.entry_id for c in rows(db, SearchClick)] == [5]


def test_a_click_waits_for_a_search_another_process_has_not_written_yet(engine, db, make_user):
    agent = make_user("agent")
    serving = QueryLogWriter(lambda: unit_of_work(engine), batch_seconds=3600)  # the process that searched
    clicked = QueryLogWriter(lambda: unit_of_work(engine), batch_seconds=3600)  # the one the click reached
    key = serving.search(user_id=agent.id, query="password reset", result_count=4)
    clicked.click(user_id=agent.id, search_key=key, entry_id=9, rank=3)
    assert clicked.flush() == 0  # its search is not written yet: the click waits
    serving.close()
    clicked.close()
    db.expire_all()
    search_id = db.exec(select(SearchLog.id)).one()
    assert [(c.search_id, c.entry_id) for c in rows(db, SearchClick)] == [(search_id, 9)]


def test_an_empty_query_is_not_logged(engine, db):
    writer = QueryLogWriter(lambda: unit_of_work(engine), batch_seconds=0)
    assert writer.search(user_id=None, query="  ?! ", result_count=0) is None
    assert rows(db, SearchLog) == []
