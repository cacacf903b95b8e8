"""`kb backup` / `kb restore`: a round trip of the demo data through real `kb` processes, on SQLite
and (with TEST_DATABASE_URL) PostgreSQL, compared with `kb export`, row counts, attachment bytes
and search; refusals of non-empty targets and damaged backups; a Meilisearch index holding
documents newer than the backup does not survive a restore."""

from __future__ import annotations

import filecmp
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel, select

from kb.accounts import service as accounts
from kb.content import attachments
from kb.content.models import Entry
from kb.db import make_engine, unit_of_work
from kb.migrate import head_revision
from kb.settings import Settings
from tests.conftest import BACKENDS
from tests.helpers import TEST_SECRET, api_token_for, fresh_postgres_database
from tests.search.conftest import meili_server  # noqa: F401 - the fixture, for the Meilisearch restore

KB = str(Path(sys.executable).parent / "kb")
# Every table of every package (tests/conftest.py bootstraps, which loads every models module).
COUNTED = tuple(sorted(SQLModel.metadata.tables))
QUERIES = ("refund", "password reset", "invoice", "shipping")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64


class Site:
    """A data directory and a database URL, driven through the `kb` command."""

    def __init__(self, data_dir: Path, url: str, **env: str):
        self.data_dir, self.url, self.env = data_dir, url, env

    def kb(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        environment = {**os.environ, "KB_DATA_DIR": str(self.data_dir), "KB_ENV": "development",
                       "KB_DATABASE_URL": self.url, **self.env}
        result = subprocess.run([KB, *args], capture_output=True, text=True, env=environment, timeout=600)
        if check:
            assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        return result

    def engine(self):
        return make_engine(self.url)

    def counts(self) -> dict[str, int]:
        eng = self.engine()
        try:
            with eng.connect() as conn:
                return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in COUNTED}
        finally:
            eng.dispose()

    def attachment_bytes(self) -> dict[str, str]:
        root = self.data_dir / "attachments"
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}


def _new_database(request, backend: str, tmp_path: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / name / 'kb.sqlite3'}"
    return fresh_postgres_database(request, prefix="kb_backup")


def _attach(site: Site) -> None:
    eng = site.engine()
    try:
        with unit_of_work(eng) as session:
            author = accounts.find_user_by_email(session=session, email="author@example.com")
            entry = session.exec(select(Entry).where(Entry.author_id == author.id, Entry.kind == "article")).first()
            attachments.store_upload(session=session, actor=author, stream=io.BytesIO(PDF), filename="refunds.pdf",
                                     data_dir=site.data_dir, max_bytes=10**7, entry=entry)
    finally:
        eng.dispose()


def _hits(site: Site) -> dict[str, list]:
    """What an agent and an admin find for each query, through the JSON API of that site."""
    settings = Settings(env="development", data_dir=site.data_dir, secret_key=TEST_SECRET, periodic_seconds=0)
    eng = site.engine()
    try:
        from web.app import create_app

        with TestClient(create_app(settings=settings, engine=eng)) as client:
            with unit_of_work(eng) as session:
                people = {who: accounts.find_user_by_email(session=session, email=f"{who}@example.com")
                          for who in ("agent", "admin")}
                tokens = {who: api_token_for(session, user) for who, user in people.items()}
            found = {}
            for who, token in tokens.items():
                for q in QUERIES:
                    body = client.get("/api/v1/search", params={"q": q, "limit": 50},
                                      headers={"Authorization": f"Bearer {token}"}).json()
                    found[f"{who}:{q}"] = [(h["entry_id"], h["title"], h["certified"]) for h in body["hits"]]
            return found
    finally:
        eng.dispose()


@pytest.fixture(params=BACKENDS)
def demo_site(request, tmp_path) -> Site:
    site = Site(tmp_path / "original", _new_database(request, request.param, tmp_path, "original"))
    site.kb("init")
    site.kb("demo")
    _attach(site)
    site.kb("reindex")
    site.backend = request.param
    return site


def test_backup_and_restore_round_trip_the_demo_data(request, tmp_path, demo_site):
    original = demo_site
    backup = tmp_path / "backup"
    made = original.kb("backup", str(backup))
    assert "Backed up" in made.stdout
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["schema"] == head_revision()
    assert manifest["database"] == ("sqlite" if original.backend == "sqlite" else "postgresql")
    assert any(name.startswith("attachments/") for name in manifest["files"])
    # Every table is counted, so a table added later is never silently left out of the check.
    assert set(manifest["counts"]) == set(COUNTED) and "expertise_score" in manifest["counts"]
    assert manifest["counts"] == original.counts()

    restored = Site(tmp_path / "restored", _new_database(request, original.backend, tmp_path, "restored"))
    done = restored.kb("restore", str(backup))
    assert "Restored" in done.stdout and "Search index rebuilt" in done.stdout

    original.kb("export", str(tmp_path / "export-original"))
    restored.kb("export", str(tmp_path / "export-restored"))
    comparison = filecmp.dircmp(tmp_path / "export-original", tmp_path / "export-restored")
    files = sorted(p.name for p in (tmp_path / "export-original").rglob("*.md"))
    assert files and not comparison.left_only and not comparison.right_only
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "export-original", tmp_path / "export-restored",
                                           [str(p.relative_to(tmp_path / "export-original")) for p in
                                            (tmp_path / "export-original").rglob("*") if p.is_file()], shallow=False)
    assert mismatch == [] and errors == []
    counts = original.counts()
    assert counts == restored.counts()
    assert counts["vote"] > 0 and counts["workflow_event"] > 0 and counts["certification"] > 0
    assert original.attachment_bytes() == restored.attachment_bytes() != {}
    assert _hits(original) == _hits(restored)
    # The restored database enforces the append-only audit trail too.
    eng = restored.engine()
    try:
        with pytest.raises(Exception, match="append-only"), eng.begin() as conn:
            conn.execute(text("UPDATE workflow_event SET comment = 'rewritten'"))
    finally:
        eng.dispose()


def test_restore_refuses_a_non_empty_target_and_a_damaged_backup(request, tmp_path, demo_site):
    backup = tmp_path / "backup"
    demo_site.kb("backup", str(backup))
    into_itself = demo_site.kb("restore", str(backup), check=False)
    assert into_itself.returncode == 2 and "not empty" in into_itself.stderr and "Traceback" not in into_itself.stderr
    again = demo_site.kb("backup", str(backup), check=False)
    assert again.returncode == 2 and "not an empty folder" in again.stderr

    damaged = next(p for p in (backup / "attachments").rglob("*") if p.is_file())
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")
    target = Site(tmp_path / "target", _new_database(request, demo_site.backend, tmp_path, "target"))
    refused = target.kb("restore", str(backup), check=False)
    assert refused.returncode == 2 and "does not match its checksum" in refused.stderr
    assert not (tmp_path / "target" / "attachments").exists()  # nothing was restored

    # The manifest counts every table; a restore holding other numbers is refused, naming the table.
    miscounted = tmp_path / "miscounted"
    demo_site.kb("backup", str(miscounted))
    manifest = json.loads((miscounted / "manifest.json").read_text())
    votes = manifest["counts"]["vote"]
    manifest["counts"]["vote"] = votes + 1
    (miscounted / "manifest.json").write_text(json.dumps(manifest))
    other = Site(tmp_path / "other", _new_database(request, demo_site.backend, tmp_path, "other"))
    wrong = other.kb("restore", str(miscounted), check=False)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert f"vote: {votes:,} rows instead of {votes + 1:,}" in " ".join(wrong.stderr.split())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_meilisearch_index_newer_than_the_backup_does_not_survive_a_restore(request, tmp_path, meili_server,
                                                                             backend):
    import meilisearch

    env = {"KB_SEARCH_BACKEND": "meilisearch", "KB_SEARCH_URL": meili_server.url, "KB_SEARCH_KEY": meili_server.key}
    original = Site(tmp_path / "original", _new_database(request, backend, tmp_path, "original"), **env)
    original.kb("init")
    original.kb("user", "create", "--email", "writer@example.com", "--name", "Writer", "--role", "author",
                "--password", "long-enough-password")

    def write(title: str, body: str) -> None:
        eng = original.engine()
        try:
            from kb.content.schemas import ArticleCreate
            from kb.content.service import create_article

            with unit_of_work(eng) as session:
                writer = accounts.find_user_by_email(session=session, email="writer@example.com")
                create_article(session=session, actor=writer, data=ArticleCreate(title=title, body=body, tags=[]))
        finally:
            eng.dispose()

    index = meilisearch.Client(meili_server.url, meili_server.key).index("kb_entries")

    def titles(word: str) -> list[str]:
        return [hit["title"] for hit in index.search(word)["hits"]]

    write("Refund windows", "Refunds within 30 days.")
    original.kb("reindex")
    original.kb("backup", str(tmp_path / "backup"))
    write("Pineapple policy", "Written after the backup.")
    original.kb("indexer", "--once")
    assert titles("pineapple") == ["Pineapple policy"]

    restored = Site(tmp_path / "restored", _new_database(request, backend, tmp_path, "restored"), **env)
    restored.kb("restore", str(tmp_path / "backup"))
    assert titles("pineapple") == []
    assert titles("refund") == ["Refund windows"]
