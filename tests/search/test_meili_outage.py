"""Acceptance: killing the search backend during writes loses nothing; once it is back, every
entry is searchable without a manual reindex.

A real Meilisearch server of this test's own (its port, master key and data directory, so it can
be killed with SIGKILL and started again on the same data) serves the app configured with
``KB_SEARCH_BACKEND=meilisearch``. Content is written through the JSON API while an indexer
thread drains the outbox the way ``kb serve`` does; the server is killed in the middle of the
writes, which go on while it is down, then it is restarted and the indexer catches up.

The embedded backend has no server to kill: the index lives in the process that writes it. Its
outage is that indexing process dying, so the second test kills ``kb indexer`` (possibly in the
middle of a tantivy commit) and starts it again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import meilisearch
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from kb.clock import utcnow
from kb.content.models import Entry, Tag
from kb.settings import Settings
from search import outbox
from search.factory import backend_for, reset_backends
from search.models import SearchOutbox
from tests.helpers import TEST_SECRET, login, rows
from search import local_meili
from tests.search.conftest import MAX_INDEXING_MEMORY, require_meilisearch
from workflow.policy import designate_expert
from kb.accounts.actors import SYSTEM

TOPIC = "orders"
MASTER_KEY = "outage-test-master-key-0123456789"
KB = str(Path(sys.executable).parent / "kb")
# One unusual word per entry, far apart in spelling (no typo or prefix match between two of them),
# so a search for it finds exactly the entry written with it.
MARKERS = (
    "aardvark", "bison", "capybara", "dugong", "echidna", "flamingo", "gazelle", "hedgehog", "iguana",
    "jackal", "kinkajou", "lemming", "manatee", "narwhal", "ocelot", "pangolin", "quetzal", "raccoon",
)  # fmt: skip


class MeiliProcess:
    """A Meilisearch server that can be killed and started again on the same port and data."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = local_meili.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "meilisearch.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = local_meili.start(self.workdir, port=self.port, key=MASTER_KEY,
                                      max_indexing_memory=MAX_INDEXING_MEMORY)

    def kill(self) -> None:
        """kill -9: no shutdown, whatever it was doing."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            local_meili.stop(self.proc)


@pytest.fixture
def meili(tmp_path):
    require_meilisearch()
    workdir = tmp_path / "meilisearch"
    workdir.mkdir()
    server = MeiliProcess(workdir)
    server.start()
    yield server
    server.stop()


class IndexerLoop(threading.Thread):
    """What ``kb serve`` runs beside the app: drain the outbox right after commits and every
    0.2 s. Backend failures are recorded on the outbox rows by ``drain``; anything it raises
    (it should not) is kept for the test to report."""

    def __init__(self, engine, settings: Settings):
        super().__init__(daemon=True)
        self.engine, self.settings = engine, settings
        self.halt = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                outbox.drain(engine=self.engine, backend=backend_for(self.settings))
            except Exception as exc:
                self.errors.append(exc)
            outbox.wait_for_changes(0.2)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)
        assert not self.is_alive(), "the indexer did not stop"
        assert not self.errors, f"the indexer raised: {self.errors!r}"


class Api:
    """The writes an integration makes, each asserted to succeed whatever search is doing."""

    def __init__(self, client: TestClient, headers: dict[str, dict[str, str]]):
        self.client, self.headers = client, headers
        self.words = iter(MARKERS)
        self.marker: dict[int, str] = {}  # entry id -> the word it is found by
        self.certified: set[int] = set()

    def post(self, who: str, path: str, json: dict | None = None, status: int = 200) -> dict:
        response = self.client.post(f"/api/v1{path}", json=json or {}, headers=self.headers[who])
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.json()

    def certify(self, author: str, revision_id: int) -> None:
        for who, action in ((author, "submit"), ("expert", "approve"), ("expert", "certify")):
            state = self.post(who, f"/revisions/{revision_id}/{action}")["state"]
        assert state == "certified"

    def article(self) -> int:
        word = next(self.words)
        entry = self.post("author", "/articles", status=201, json={
            "title": f"Cancel an order before shipping {word}",
            "body": f"Open **Orders**, pick the order, then *Cancel*. Refund goes back to the card ({word}).",
            "tags": [TOPIC]})
        self.certify("author", entry["latest_revision_id"])
        self.marker[entry["id"]] = word
        self.certified.add(entry["id"])
        return entry["id"]

    def question(self) -> int:
        word = next(self.words)
        entry = self.post("agent", "/questions", status=201, json={
            "title": f"Customer asks where the parcel is {word}", "body": "Tracking shows nothing.", "tags": [TOPIC]})
        self.marker[entry["id"]] = word
        return entry["id"]

    def answer(self, question_id: int) -> int:
        word = next(self.words)
        entry = self.post("author", f"/questions/{question_id}/answers", status=201,
                          json={"body": f"Ask the carrier with the tracking number ({word})."})
        self.certify("author", entry["latest_revision_id"])
        self.marker[entry["id"]] = word
        self.certified.add(entry["id"])
        return entry["id"]

    def new_certified_text(self, entry_id: int) -> str:
        """A new revision with a new word, certified: agents must find the new text, not the old."""
        word = next(self.words)
        latest = self.client.get(f"/api/v1/entries/{entry_id}", headers=self.headers["author"]).json()
        revision = self.post("author", f"/entries/{entry_id}/revisions", status=201, json={
            "title": f"Cancel an order that has shipped {word}", "body": f"Ask the customer to refuse it ({word}).",
            "tags": [TOPIC], "base_revision_id": latest["latest_revision_id"]})
        self.certify("author", revision["id"])
        old, self.marker[entry_id] = self.marker[entry_id], word
        return old

    def archive(self, entry_id: int) -> None:
        assert self.post("expert", f"/entries/{entry_id}/archive")["status"] == "archived"


def search_ids(client: TestClient, headers: dict[str, str], word: str) -> list[int]:
    response = client.get("/api/v1/search", params={"q": word}, headers=headers)
    assert response.status_code == 200, response.text
    return [hit["entry_id"] for hit in response.json()["hits"]]


def outbox_state(db) -> tuple[int, int]:
    """(rows not indexed yet, rows whose indexing failed at least once), read afresh."""
    db.commit()
    pending = db.exec(select(func.count()).select_from(SearchOutbox).where(SearchOutbox.done_at.is_(None))).one()
    failed = db.exec(select(func.count()).select_from(SearchOutbox).where(SearchOutbox.attempts > 0)).one()
    return pending, failed


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def write_before_the_outage(api: Api) -> dict[str, int]:
    """Articles and a question; the entries that the outage writes will change later."""
    first = api.article()
    revised, archived = api.article(), api.article()
    question = api.question()
    return {"first": first, "revised": revised, "archived": archived, "question": question}


def write_during_the_outage(api: Api, before: dict[str, int]) -> str:
    """Every kind of change that must reach search; returns the revised article's old word."""
    api.article()
    api.question()
    api.answer(before["question"])
    old_word = api.new_certified_text(before["revised"])
    api.archive(before["archived"])
    api.article()
    return old_word


def assert_nothing_lost(db, client: TestClient, agent: dict[str, str], api: Api, before: dict[str, int],
                        old_word: str) -> None:
    archived = before["archived"]
    # Nothing lost in the database ...
    entries = {e.id: e for e in rows(db, Entry)}
    assert set(entries) == set(api.marker)
    assert all(entries[i].certified_revision_id for i in api.certified - {archived})
    # ... and every entry is found by its word (archived ones no more), without a reindex.
    for entry_id, word in api.marker.items():
        ids = search_ids(client, agent, word)
        if entry_id == archived:
            assert ids == [], "archived while search was down, but still found"
        else:
            assert entry_id in ids, f"entry {entry_id} ({word}) is not searchable after the outage"
    assert search_ids(client, agent, old_word) == []  # the revised article's old text is gone


def assert_search_page_says_catching_up(app, agent_email: str, outage_started: float) -> None:
    """Changes waiting more than 5 s are announced on the search page."""
    time.sleep(max(0.0, 5.5 - (time.monotonic() - outage_started)))
    with TestClient(app) as browser:
        login(browser, agent_email)
        assert re.search(r"Search is catching up with \d+ recent changes", browser.get("/search?q=order").text)


@pytest.fixture
def people(db, make_user, bearer):
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    db.add(Tag(name=TOPIC))
    db.flush()
    designate_expert(session=db, actor=SYSTEM, topic=TOPIC, user=expert)
    db.commit()
    return {"users": {"author": author, "expert": expert, "agent": agent},
            "headers": {"author": bearer(author), "expert": bearer(expert), "agent": bearer(agent)}}


# --- Meilisearch: the server is killed -------------------------------------------------------


@pytest.fixture
def meili_settings(settings, meili) -> Settings:
    """The app searches with the Meilisearch server above; no background jobs of its own."""
    reset_backends()
    yield settings.model_copy(update={"search_backend": "meilisearch", "search_url": meili.url,
                                      "search_key": MASTER_KEY})
    reset_backends()


@pytest.fixture
def meili_app(engine, db, meili_settings):
    from web.app import create_app

    return create_app(settings=meili_settings, engine=engine)


def test_killing_meilisearch_during_writes_loses_nothing(engine, db, meili_app, meili_settings, meili, people):
    settings, agent = meili_settings, people["headers"]["agent"]
    with TestClient(meili_app) as client:
        api = Api(client, people["headers"])
        indexer = IndexerLoop(engine, settings)
        indexer.start()
        try:
            # Server up: content is written and indexed.
            before = write_before_the_outage(api)
            wait_until(lambda: outbox_state(db)[0] == 0, 60, "the indexer did not catch up while Meilisearch was up")
            assert search_ids(client, agent, api.marker[before["first"]]) == [before["first"]]

            # The stream of writes goes on; the server is killed in the middle of it, while the
            # indexer is (most likely) sending the last write.
            api.article()
            api.question()
            meili.kill()

            # Down: every write still succeeds.
            outage_started = time.monotonic()
            old_word = write_during_the_outage(api, before)
            wait_until(lambda: outbox_state(db)[1] > 0, 30, "the indexer never tried to index during the outage")

            health = client.get("/healthz").json()
            assert health["status"] == "degraded" and health["database"] == "ok"
            assert health["search"]["status"] == "down" and health["search"]["pending"] > 0
            assert client.get("/api/v1/search", params={"q": "order"}, headers=agent).status_code == 503
            with TestClient(meili_app) as browser:
                login(browser, people["users"]["agent"].email)
                page = browser.get("/search", params={"q": "cancel order"})
                assert page.status_code == 200 and "Search is unavailable right now; it is catching up" in page.text
        finally:
            indexer.stop()

        # Back, on the same data and port.
        meili.start()
        assert_search_page_says_catching_up(meili_app, people["users"]["agent"].email, outage_started)

        # The indexer catches up: the failed rows are retried once their backoff is over (the
        # test moves the indexer's clock past it instead of waiting).
        retry_time = utcnow() + timedelta(seconds=outbox.MAX_BACKOFF_SECONDS + 1)
        for _ in range(10):
            report = outbox.drain(engine=engine, backend=backend_for(settings), now=retry_time)
            assert report.failed == 0, report.error
            if outbox_state(db)[0] == 0:
                break
        assert outbox_state(db)[0] == 0

        # Written after the restart: indexed as usual.
        api.article()
        api.question()
        outbox.drain(engine=engine, backend=backend_for(settings))

        assert_nothing_lost(db, client, agent, api, before, old_word)
        swaps = meilisearch.Client(meili.url, MASTER_KEY).get_tasks({"types": ["indexSwap"]}).results
        assert swaps == []  # no reindex (a reindex builds a new index and swaps it in)
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["search"]["pending"] == 0


# --- embedded: the process that writes the index is killed -----------------------------------


class IndexerProcess:
    """``kb indexer`` on the app's database and data directory (it holds the embedded index's
    writer while it runs)."""

    def __init__(self, engine, settings: Settings, log: Path):
        self.env = {**os.environ, "KB_ENV": "development", "KB_SECRET_KEY": TEST_SECRET,
                    "KB_DATA_DIR": str(settings.data_dir), "KB_SEARCH_BACKEND": "embedded",
                    "KB_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([KB, "indexer", "--interval", "0.1"], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def assert_running(self) -> None:
        assert self.proc.poll() is None, f"kb indexer exited:\n{self.log.read_text()[-3000:]}"


@pytest.fixture
def indexer_process(engine, settings, tmp_path):
    reset_backends()
    process = IndexerProcess(engine, settings, tmp_path / "indexer.log")
    yield process
    process.stop()
    reset_backends()


def test_killing_the_embedded_indexer_during_writes_loses_nothing(engine, db, app, client, people,
                                                                    indexer_process):
    api, agent = Api(client, people["headers"]), people["headers"]["agent"]
    indexer_process.start()
    before = write_before_the_outage(api)
    wait_until(lambda: outbox_state(db)[0] == 0, 60, "kb indexer did not index the first entries")
    first = api.marker[before["first"]]
    wait_until(lambda: search_ids(client, agent, first) == [before["first"]], 10, "the first article is not found")

    # kill -9 in the middle of the writes, perhaps in the middle of a tantivy commit.
    api.article()
    api.question()
    indexer_process.kill()
    outage_started = time.monotonic()
    old_word = write_during_the_outage(api, before)
    assert client.get("/healthz").json()["search"]["pending"] > 0
    assert_search_page_says_catching_up(app, people["users"]["agent"].email, outage_started)

    # Started again: it takes the index over (the dead process's locks are gone) and catches up.
    indexer_process.start()
    wait_until(lambda: outbox_state(db)[0] == 0, 60, "kb indexer did not catch up after its restart")
    api.article()
    api.question()
    wait_until(lambda: outbox_state(db)[0] == 0, 60, "kb indexer did not index the last writes")
    indexer_process.assert_running()
    indexer_process.stop()

    reset_backends()  # a fresh reader of the index the other process wrote
    assert_nothing_lost(db, client, agent, api, before, old_word)
