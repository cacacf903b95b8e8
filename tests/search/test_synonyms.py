"""Admin-managed search synonyms: the service, how every process's backend picks rules up (on the
embedded backend and a real Meilisearch server), and ``kb synonyms``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from kb.clock import travel, utcnow
from kb.db import session_factory
from kb.errors import Forbidden, NotFound, ValidationFailed
from search import service, synonyms
from search.backend import SearchQuery, Viewer
from search.models import SearchSynonym
from tests.helpers import rows
from tests.search.test_contract import doc
from kb.accounts.actors import SYSTEM

DOCS = [
    doc(1, "Refund an order", "Issue the refund from the billing page.", tags=("billing",)),
    doc(2, "Delete a customer account", "Account deletion removes personal data.", tags=("privacy",)),
    doc(3, "Shipping times", "Parcels arrive within three days.", tags=("shipping",)),
]


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def found(backend, db, user, text: str) -> list[int]:
    results = service.search(session=db, backend=backend, viewer_user=user, text=text)
    return [h.entry_id for h in results.hits]


# -- the service -------------------------------------------------------------------------------------


def test_admin_adds_replaces_and_deletes_a_rule(db, admin):
    rule = synonyms.save_rule(session=db, actor=admin, phrase="  Money   Back ", alternatives=["Refund"])
    db.commit()
    assert (rule.phrase, rule.alternatives, rule.updated_by) == ("money back", ["refund"], admin.id)
    replaced = synonyms.save_rule(session=db, actor=admin, phrase="money back",
                                  alternatives=["refund", "", "reimbursement"])
    db.commit()
    assert replaced.id == rule.id and replaced.alternatives == ["refund", "reimbursement"]
    assert [(r.phrase, r.alternatives) for r in synonyms.list_rules(session=db, actor=admin)] == [
        ("money back", ["refund", "reimbursement"])
    ]
    synonyms.delete_rule(session=db, actor=admin, rule_id=rule.id)
    db.commit()
    assert rows(db, SearchSynonym) == []


@pytest.mark.parametrize(
    ("phrase", "alternatives", "field", "message"),
    [
        ("", ["refund"], "phrase", "Enter a word or phrase."),
        ("x" * 101, ["refund"], "phrase", "at most 100 characters"),
        ("my money is not back yet", ["refund"], "phrase", "has 6 words: a word or phrase has 1 to 4 words"),
        ("!!!", ["refund"], "phrase", "has no letters or digits"),
        ("the", ["refund"], "phrase", "only common words that search ignores"),
        ("money back", [], "alternatives", "Give at least one alternative"),
        ("money back", [" ", ""], "alternatives", "Give at least one alternative"),
        ("money back", ["refund", "Refunds"], "alternatives", "“refunds” is listed twice"),
        ("money back", ["one two three four five"], "alternatives", "each alternative has 1 to 4 words"),
        ("refund", ["refunds"], "alternatives", "means the same as “refund” to search"),
        ("money back", ["refund"] * 0 + [f"word{i}" for i in range(21)], "alternatives", "at most 20 alternatives"),
    ],
)
def test_rules_are_checked_with_messages_a_person_understands(db, admin, phrase, alternatives, field, message):
    with pytest.raises(ValidationFailed) as caught:
        synonyms.save_rule(session=db, actor=admin, phrase=phrase, alternatives=alternatives)
    assert caught.value.field == field
    assert message in caught.value.message
    assert rows(db, SearchSynonym) == []


def test_a_phrase_search_reads_like_an_existing_one_is_refused(db, admin):
    synonyms.save_rule(session=db, actor=admin, phrase="year", alternatives=["annual"])
    with pytest.raises(ValidationFailed, match="means the same to search as “year”"):
        synonyms.save_rule(session=db, actor=admin, phrase="yearly", alternatives=["annual"])


def test_only_admins_manage_synonyms(db, make_user, admin):
    rule = synonyms.save_rule(session=db, actor=admin, phrase="erase", alternatives=["delete"])
    db.commit()
    for role in ("agent", "author", "expert"):
        user = make_user(role)
        with pytest.raises(Forbidden):
            synonyms.list_rules(session=db, actor=user)
        with pytest.raises(Forbidden):
            synonyms.save_rule(session=db, actor=user, phrase="wipe", alternatives=["delete"])
        with pytest.raises(Forbidden):
            synonyms.delete_rule(session=db, actor=user, rule_id=rule.id)
    assert [r.phrase for r in rows(db, SearchSynonym)] == ["erase"]


def test_deleting_a_missing_rule_says_so(db, admin):
    with pytest.raises(NotFound, match="no synonym rule for “money back”"):
        synonyms.delete_rule(session=db, actor=SYSTEM, phrase="Money back")
    with pytest.raises(NotFound):
        synonyms.delete_rule(session=db, actor=admin, rule_id=12345)


def test_demo_synonyms_are_loaded_once(db):
    assert synonyms.load_demo_synonyms(session=db) == len(synonyms.DEMO_SYNONYMS)
    db.commit()
    assert synonyms.load_demo_synonyms(session=db) == 0
    assert {r.phrase for r in rows(db, SearchSynonym)} == {p for p, _ in synonyms.DEMO_SYNONYMS}


# -- every process applies the rules, on both backends --------------------------------------------------


def test_an_added_rule_is_used_without_restart_and_a_deleted_one_stops(backend, db, make_user, admin):
    agent = make_user("agent")
    backend.index(DOCS)
    assert found(backend, db, agent, "reimbursement ") == []
    assert found(backend, db, agent, "wipe account")[0] == 2  # "account" alone
    rule = synonyms.save_rule(session=db, actor=admin, phrase="reimbursement", alternatives=["refund"])
    synonyms.save_rule(session=db, actor=admin, phrase="wipe", alternatives=["delete"])
    db.commit()
    assert found(backend, db, agent, "reimbursement ") == [1]
    assert found(backend, db, agent, "customer wants a reimbursement for the order")[0] == 1
    synonyms.delete_rule(session=db, actor=admin, rule_id=rule.id)
    db.commit()
    assert found(backend, db, agent, "reimbursement ") == []
    assert found(backend, db, agent, "wipe ") == [2]


def test_a_rule_saved_by_another_process_is_used_within_the_sync_interval(backend, db, engine, make_user):
    agent = make_user("agent")
    backend.index(DOCS)
    assert found(backend, db, agent, "parcel delay") == [3]
    # Another web worker or `kb synonyms add` commits a rule: this process learns of it by
    # checking the table, at most every SYNC_SECONDS.
    with session_factory(engine)() as other:
        other.add(SearchSynonym(phrase="delay", alternatives=["refund"]))
        other.commit()
    db.commit()  # a new transaction sees the other's commit
    assert found(backend, db, agent, "delay ") == []  # checked a moment ago
    with travel(utcnow() + timedelta(seconds=synonyms.SYNC_SECONDS + 1)):
        assert found(backend, db, agent, "delay ") == [1]


def test_the_backend_gets_the_rules_only_when_they_changed(backend, db, admin):
    synonyms.save_rule(session=db, actor=admin, phrase="erase", alternatives=["delete"])
    db.commit()
    assert synonyms.sync(session=db, backend=backend) is True  # first search of this process
    assert synonyms.sync(session=db, backend=backend) is False
    with travel(utcnow() + timedelta(seconds=synonyms.SYNC_SECONDS + 1)):
        assert synonyms.sync(session=db, backend=backend) is False  # checked again: unchanged
    synonyms.save_rule(session=db, actor=admin, phrase="erase", alternatives=["delete", "remove"])
    db.commit()
    assert synonyms.sync(session=db, backend=backend) is True
    assert synonyms.sync(session=db, backend=backend) is False


def test_meilisearch_settings_are_updated_only_when_the_rules_differ(meili_backend, meili_server):
    meili_backend.index(DOCS)

    def synonym_updates() -> int:
        tasks = meili_backend._client.get_tasks({"indexUids": [meili_backend.index_name], "types": ["settingsUpdate"]})
        return sum(1 for task in tasks.results if "synonyms" in (task.details or {}))

    meili_backend.set_synonyms({"erase": ["delete"]})
    before = synonym_updates()
    # Another worker's backend applies the same rules: nothing to do.
    make_meili_backend_for(meili_backend, meili_server).set_synonyms({"erase": ["delete"]})
    meili_backend.set_synonyms({"erase": ["delete"]})
    assert synonym_updates() == before
    meili_backend.set_synonyms({"erase": ["delete", "remove"]})
    assert synonym_updates() == before + 1


def make_meili_backend_for(backend, server):
    """A second MeiliBackend on the same index, as another process would have."""
    from search.meili import MeiliBackend

    other = MeiliBackend(server.url, server.key, index_name=backend.index_name)
    other._ensure_ready()
    return other


def test_meilisearch_processes_that_never_loaded_rules_keep_them(meili_backend, meili_server):
    meili_backend.set_synonyms({"erase": ["delete"]})
    meili_backend.index(DOCS)
    indexer = make_meili_backend_for(meili_backend, meili_server)  # `kb indexer`: writes, never searches
    indexer.index([doc(4, "Delete an address", "Remove it.")])
    assert indexer.reindex(DOCS) == len(DOCS)
    hits = meili_backend.search(SearchQuery(text="erase account", viewer=Viewer(user_id=1))).hits
    assert hits[0].entry_id == 2


def test_reindex_applies_the_database_rules(backend, db, engine, make_user, admin):
    synonyms.save_rule(session=db, actor=admin, phrase="erase", alternatives=["delete"])
    db.commit()
    service.reindex(engine=engine, backend=backend)  # no entries: the index is empty
    backend.index(DOCS)
    hits = backend.search(SearchQuery(text="erase account", viewer=Viewer(user_id=1))).hits
    assert hits[0].entry_id == 2


# -- kb synonyms ---------------------------------------------------------------------------------------

KB = str(Path(sys.executable).parent / "kb")


def run_kb(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_ENV": "development", "COLUMNS": "200"}
    environment.pop("KB_DATABASE_URL", None)
    return subprocess.run([KB, *args], capture_output=True, text=True, env=environment, timeout=120)


def test_kb_synonyms_add_list_remove(tmp_path):
    assert run_kb(["init"], tmp_path).returncode == 0
    added = run_kb(["synonyms", "add", "Money back", "refund", "reimbursement"], tmp_path)
    assert added.returncode == 0, added.stderr
    assert "Searching “money back” also finds: refund, reimbursement." in added.stdout
    listed = run_kb(["synonyms", "list"], tmp_path)
    assert listed.returncode == 0 and "money back" in listed.stdout and "refund, reimbursement" in listed.stdout
    bad = run_kb(["synonyms", "add", "the", "refund"], tmp_path)
    assert bad.returncode == 1 and "only common words" in bad.stderr and "Traceback" not in bad.stderr
    removed = run_kb(["synonyms", "remove", "money back"], tmp_path)
    assert removed.returncode == 0 and "Deleted the rule for “money back”." in removed.stdout
    again = run_kb(["synonyms", "remove", "money back"], tmp_path)
    assert again.returncode == 1 and "no synonym rule for “money back”" in again.stderr
    assert "0 search synonym rules" in run_kb(["synonyms", "list"], tmp_path).stdout
