"""Outbox indexing: changes write outbox rows in their own transaction; the indexer drains them
into the backend, survives backend outages (retries with backoff, loses nothing) and reindex
rebuilds everything. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.clock import utcnow
from kb.content import forum
from kb.content import service as content
from kb.content.models import Entry, Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from kb import events
from kb.db import session_factory
from search import facts, outbox
from search import service as search_service
from search.documents import documents_for_entries, documents_for_entry
from search.embedded import EmbeddedBackend
from search.models import SearchOutbox
from workflow import service as workflow
from workflow.expiry import as_utc, sweep
from workflow.models import Action, Certification, TopicExpert
from kb.accounts.actors import SYSTEM


@pytest.fixture(autouse=True)
def _subscribed():
    outbox.register()


@pytest.fixture
def index(tmp_path):
    backend = EmbeddedBackend(tmp_path / "search")
    yield backend
    backend.close()


@pytest.fixture
def semantic_index(tmp_path):
    """With hybrid search: the real model computes vectors in the indexer's second pass."""
    backend = EmbeddedBackend(tmp_path / "hybrid", semantic=True)
    yield backend
    backend.close()


class FlakyBackend:
    """The embedded backend behind a switch: the next ``failures`` writes raise, like a server that
    is down."""

    name = "flaky"

    def __init__(self, inner, failures: int = 0):
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def _maybe_fail(self):
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("search backend is down")

    def index(self, docs):
        self._maybe_fail()
        self.inner.index(docs)

    def delete(self, ids):
        self.inner.delete(ids)

    def search(self, query):
        return self.inner.search(query)

    def health(self):
        return self.inner.health()

    def clear(self):
        self.inner.clear()


def user(db, *roles):
    data = UserCreate(email=f"{'-'.join(roles)}-{uuid.uuid4().hex[:8]}@example.com", display_name="-".join(roles),
                      roles=[Role(r) for r in roles], password=None)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


@pytest.fixture
def people(db):
    cast = {"author": user(db, "author"), "expert": user(db, "expert"), "agent": user(db, "agent"),
            "admin": user(db, "admin")}
    db.commit()
    return cast


def article(db, author, *, title="Reset a customer's password", body="Open **Accounts**, then *Reset*.",
            tags=("accounts",)) -> Entry:
    return content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body,
                                                                                 tags=list(tags)))


def certify(db, entry: Entry, author, expert, revision_id: int | None = None) -> None:
    for tag_id in db.exec(select(Tag.id).where(Tag.name == "accounts")).all():
        if db.get(TopicExpert, (tag_id, expert.id)) is None:
            db.add(TopicExpert(tag_id=tag_id, user_id=expert.id))
    db.flush()
    revision_id = revision_id or entry.latest_revision_id
    for actor, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=revision_id, action=action)


def outbox_rows(db, entry_id: int | None = None) -> list[SearchOutbox]:
    db.commit()
    db.expire_all()
    statement = select(SearchOutbox).order_by(SearchOutbox.id)
    if entry_id is not None:
        statement = statement.where(SearchOutbox.entry_id == entry_id)
    return list(db.exec(statement))


def pending(db) -> int:
    db.commit()  # a fresh snapshot: the indexer committed in its own connection
    return outbox.pending_count(session=db)


def found(backend, viewer, text: str, **kwargs) -> list[int]:
    results = search_service.search(backend=backend, viewer_user=viewer, text=text, **kwargs)
    return [hit.entry_id for hit in results.hits]


# --- the outbox rows -------------------------------------------------------------------------


def test_events_published_together_write_what_one_by_one_would(db, people):
    """``kb import`` publishes its events a batch at a time (``publish_all``): the outbox's bulk
    variant writes the same rows and facts as its handler run event by event."""
    author, agent = people["author"], people["agent"]
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Bulk outbox question", body="Where is it?", tags=["accounts"]))
    answers = [forum.answer_question(session=db, actor=author, question=question, data=AnswerCreate(body=f"Here {n}."))
               for n in range(2)]
    plain = article(db, author)
    db.commit()

    def written(publish) -> list[int]:
        before = {r.id for r in outbox_rows(db)}
        publish()
        db.flush()
        return sorted(r.entry_id for r in outbox_rows(db) if r.id not in before)

    changed = [events.Event(events.REVISION_CREATED, entry_id=e.id) for e in (question, plain)]
    one_by_one = written(lambda: [events.publish(session=db, event=e) for e in changed])
    assert one_by_one == sorted([question.id, plain.id, *(a.id for a in answers)])  # answers carry its title
    assert written(lambda: events.publish_all(session=db, events=changed)) == one_by_one
    accepted = [events.Event(events.ANSWER_ACCEPTED, entry_id=answers[0].id, data={"question_id": question.id})]
    one_by_one = written(lambda: [events.publish(session=db, event=e) for e in accepted])
    assert written(lambda: events.publish_all(session=db, events=accepted)) == one_by_one == sorted(
        a.id for a in answers)

    # Facts: an existing row updated, a missing one created, the later event of an entry wins.
    facts.record(session=db, event=events.Event(events.VOTE_CHANGED, entry_id=plain.id, data={"helpful_score": 0.5}))
    events.publish_all(session=db, events=[
        events.Event(events.CERTIFICATION_CHANGED, entry_id=plain.id, data={"needs_reverification": True}),
        events.Event(events.CERTIFICATION_CHANGED, entry_id=answers[0].id, data={"needs_reverification": False}),
        events.Event(events.CERTIFICATION_CHANGED, entry_id=answers[0].id, data={"needs_reverification": True})])
    db.commit()
    kept = facts.of_entry(session=db, entry_id=plain.id)
    assert (kept.needs_reverification, kept.helpful_score) == (True, 0.5)
    assert facts.of_entry(session=db, entry_id=answers[0].id).needs_reverification is True
    assert facts.of_entry(session=db, entry_id=answers[1].id).needs_reverification is False  # no row: defaults
    with pytest.raises(ValueError):
        events.publish_all(session=db, events=[changed[0], accepted[0]])  # one name per call



def test_changes_write_outbox_rows_in_the_same_transaction(db, people):
    entry = article(db, people["author"])
    db.flush()
    # Visible in the writer's own transaction, before any commit ...
    assert db.exec(select(func.count()).select_from(SearchOutbox).where(SearchOutbox.entry_id == entry.id)).one() == 1
    db.rollback()
    # ... and gone with it when the change rolls back.
    assert outbox_rows(db) == []

    entry = article(db, people["author"])
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    rows = outbox_rows(db, entry.id)
    assert len(rows) == 4  # created, submitted, approved, certified
    assert all(r.done_at is None and r.attempts == 0 for r in rows)
    assert pending(db) == 4


def test_certified_article_is_searchable_after_drain(engine, db, people, index):
    entry = article(db, people["author"])
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    assert found(index, people["agent"], "password") == []  # nothing is indexed inside the request

    report = outbox.drain(engine=engine, backend=index)
    assert report.rows == 4 and report.entries == 1 and report.failed == 0
    results = search_service.search(backend=index, viewer_user=people["agent"], text="pasword resett")
    assert [h.entry_id for h in results.hits] == [entry.id]
    assert results.hits[0].certified and not results.hits[0].needs_reverification
    assert results.hits[0].tags == ["accounts"]
    assert pending(db) == 0
    assert outbox.drain(engine=engine, backend=index).rows == 0  # nothing left


def test_documents_follow_the_workflow(engine, db, people, index):
    author, agent = people["author"], people["agent"]
    entry = article(db, author, title="Refund after cancellation zebrafinch")
    db.commit()
    outbox.drain(engine=engine, backend=index)
    # A draft: restricted only; agents never see it, its author does with drafts on.
    assert found(index, agent, "zebrafinch") == []
    assert found(index, agent, "zebrafinch", include_drafts=True) == []
    assert found(index, author, "zebrafinch") == []
    assert found(index, author, "zebrafinch", include_drafts=True) == [entry.id]
    # Experts see it once it is submitted for review, as on the entry page (issue 12: not before).
    assert found(index, people["expert"], "zebrafinch", include_drafts=True) == []
    assert found(index, people["admin"], "zebrafinch", include_drafts=True) == [entry.id]
    workflow.transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, people["expert"], "zebrafinch", include_drafts=True) == [entry.id]
    workflow.transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.withdraw)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, people["expert"], "zebrafinch", include_drafts=True) == []
    db.refresh(entry)
    content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Refund after cancellation zebrafinch", body="Again.", tags=["accounts"],
        base_revision_id=entry.latest_revision_id))
    db.commit()
    db.refresh(entry)

    certify(db, entry, author, people["expert"])
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, agent, "zebrafinch") == [entry.id]
    docs, deletes = documents_for_entry(session=db, entry_id=entry.id)
    assert [d.id for d in docs] == [f"{entry.id}:public"] and deletes == [f"{entry.id}:restricted"]

    # A new draft: agents keep the certified text; the draft's words stay restricted.
    db.refresh(entry)
    content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Refund after cancellation okapiword", body="New text.", tags=["accounts"],
        base_revision_id=entry.latest_revision_id))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, agent, "zebrafinch") == [entry.id]
    assert found(index, agent, "okapiword", include_drafts=True) == []
    assert found(index, author, "okapiword", include_drafts=True) == [entry.id]
    results = search_service.search(backend=index, viewer_user=agent, text="okapiword")
    assert results.total == 0 and not any(results.facets.get("tag", {}).values())

    # Archived: no public document any more.
    db.refresh(entry)
    workflow.archive(session=db, actor=people["admin"], entry=entry)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, agent, "zebrafinch") == []


def test_questions_are_public_without_certification(engine, db, people, index):
    question = forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(
        title="Customer wants an invoice copy quokka", body="Where do I find it?", tags=["billing"]))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    other_agent = user(db, "agent")
    db.commit()
    results = search_service.search(backend=index, viewer_user=other_agent, text="quokka")
    assert [h.entry_id for h in results.hits] == [question.id]
    assert results.hits[0].kind == "question" and not results.hits[0].certified


# --- outages and retries ---------------------------------------------------------------------


def test_a_backend_outage_loses_nothing_and_backs_off(engine, db, people, index):
    flaky = FlakyBackend(index, failures=2)
    entries = []
    for n in range(3):
        entry = article(db, people["author"], title=f"Outage article number{n}", body=f"Body {n}.")
        certify(db, entry, people["author"], people["expert"])
        db.commit()  # the writes succeed whatever the search backend does
        entries.append(entry)
    t0 = utcnow()

    report = outbox.drain(engine=engine, backend=flaky, now=t0)  # never raises
    assert report.failed == report.rows == 12 and "down" in report.error
    rows = outbox_rows(db)
    assert all(r.attempts == 1 and "ConnectionError" in r.last_error and r.done_at is None for r in rows)
    assert all(r.next_attempt_at == t0 + timedelta(seconds=2) for r in rows)

    # Backoff: nothing is retried before it is due.
    assert outbox.drain(engine=engine, backend=flaky, now=t0 + timedelta(seconds=1)).rows == 0
    assert flaky.calls == 1
    report = outbox.drain(engine=engine, backend=flaky, now=t0 + timedelta(seconds=3))  # fails again
    assert report.failed == 12
    rows = outbox_rows(db)
    assert all(r.attempts == 2 and r.next_attempt_at == t0 + timedelta(seconds=3 + 4) for r in rows)
    assert outbox.drain(engine=engine, backend=flaky, now=t0 + timedelta(seconds=6)).rows == 0

    # Back up: the next drain indexes everything, without a manual reindex.
    report = outbox.drain(engine=engine, backend=flaky, now=t0 + timedelta(seconds=7))
    assert report.rows == 12 and report.failed == 0 and report.entries == 3
    assert sorted(found(index, people["agent"], "outage article")) == sorted(e.id for e in entries)
    assert pending(db) == 0


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 8, 9, 20)] == [2, 4, 8, 256, 300, 300]


def test_drain_dedupes_and_batches(engine, db, people, index):
    entries = [article(db, people["author"], title=f"Batch article {n}") for n in range(5)]
    db.commit()
    for entry in entries:  # a second row for each entry
        db.refresh(entry)
        content.save_revision(session=db, actor=people["author"], entry=entry, data=RevisionCreate(
            title=f"Batch article v2 {entry.id}", body="Second.", tags=[], base_revision_id=entry.latest_revision_id))
    db.commit()
    report = outbox.drain(engine=engine, backend=index, batch_size=4)
    assert report.rows == 10 and report.failed == 0
    assert pending(db) == 0
    assert sorted(found(index, people["author"], "batch article", include_drafts=True)) == sorted(e.id for e in entries)


def test_postgresql_indexers_skip_rows_another_indexer_holds(engine, db, people, index):
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    first = article(db, people["author"], title="Held by another indexer")
    second = article(db, people["author"], title="Free for this indexer")
    db.commit()
    other = session_factory(engine)()
    try:
        held = other.exec(select(SearchOutbox).where(SearchOutbox.entry_id == first.id).with_for_update()).all()
        assert held
        report = outbox.drain(engine=engine, backend=index)
        assert report.rows == 1 and report.entries == 1
    finally:
        other.rollback()
        other.close()
    assert [r.entry_id for r in outbox_rows(db) if r.done_at is None] == [first.id]
    assert outbox.drain(engine=engine, backend=index).rows == 1
    assert second.id in found(index, people["author"], "indexer", include_drafts=True)


# --- reindex ---------------------------------------------------------------------------------


def test_reindex_rebuilds_everything(engine, db, people, index):
    certified = article(db, people["author"], title="Certified reindex article")
    certify(db, certified, people["author"], people["expert"])
    draft = article(db, people["author"], title="Draft reindex article")
    db.commit()
    assert pending(db) == 5
    index.clear()
    progress = []
    count = search_service.reindex(engine=engine, backend=index, progress=lambda done, total: progress.append(done))
    assert count == 2  # the certified public document and the draft's restricted one
    assert progress[0] == 0 and progress[-1] == 2
    assert pending(db) == 0  # covered by the rebuild
    assert found(index, people["agent"], "reindex article") == [certified.id]
    assert sorted(found(index, people["author"], "reindex article", include_drafts=True)) == sorted(
        [certified.id, draft.id])


def test_drain_lock_allows_one_holder(tmp_path):
    first, second = outbox.drain_lock(tmp_path), outbox.drain_lock(tmp_path)
    assert first.acquire() and first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


# --- every change that affects search reaches the index without a reindex --------------------

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_EVENT = re.compile(r'\bEvent\(\s*([A-Z_]+)\b')  # names are kb.events constants
# Published events that change no field of a search document (see search/documents.py), so
# writing outbox rows for them would only re-send identical documents.
CHANGES_NOTHING_SEARCHABLE = {
    # Promoting publishes entry.created for the new article; the answer itself is unchanged.
    "answer.promoted",
    # Flags open review tasks; an entry's documents stay as they are until a new revision.
    "flag.changed",
    # Who is a topic's expert decides who reviews and certifies; search shows restricted
    # documents by role (expert, admin), not by topic.
    "topic_expert.changed",
    # Administrative changes (users, roles, policies, synonyms) go to the audit trail; synonyms
    # apply at query time, so no stored document changes.
    "admin.action",
    # A link to set a password is emailed; no entry changes.
    "password_link.requested",
    # The end of an import: each of its batches published the events of the entries it wrote.
    "import.finished",
}


def test_every_published_event_is_indexed_or_changes_nothing_searchable():
    """A new domain event must be sorted into one list or the other: otherwise the change it
    stands for silently reaches search only at the next ``kb reindex``."""
    published = {
        getattr(events, constant)
        for package in ("kb", "workflow", "expertise")
        for path in (ROOT / package).rglob("*.py")
        for constant in PUBLISHED_EVENT.findall(path.read_text())
    }
    assert {"entry.created", "answer.accepted", "certification.changed"} <= published  # the scan works
    undecided = published - set(outbox.EVENTS) - CHANGES_NOTHING_SEARCHABLE
    assert not undecided, f"decide whether these events change search documents: {sorted(undecided)}"
    assert not set(outbox.EVENTS) & CHANGES_NOTHING_SEARCHABLE


def hits(backend, viewer, text: str, **kwargs):
    return search_service.search(backend=backend, viewer_user=viewer, text=text, **kwargs).hits


def test_expiry_and_reverification_reach_the_index(engine, db, people, index):
    entry = article(db, people["author"], title="Chargeback dispute walrusword")
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    outbox.drain(engine=engine, backend=index)
    [hit] = hits(index, people["agent"], "walrusword")
    assert hit.certified and not hit.needs_reverification

    valid_until = db.exec(select(Certification.valid_until).where(Certification.entry_id == entry.id)).one()
    report = sweep(session=db, now=as_utc(valid_until) + timedelta(days=1))
    db.commit()
    assert report.needs_reverification == 1
    outbox.drain(engine=engine, backend=index)
    [hit] = hits(index, people["agent"], "walrusword")
    assert hit.certified and hit.needs_reverification  # still shown to agents, marked stale

    db.refresh(entry)
    workflow.reverify(session=db, actor=people["expert"], entry=entry)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    [hit] = hits(index, people["agent"], "walrusword")
    assert hit.certified and not hit.needs_reverification


def test_forum_changes_reach_the_index(engine, db, people, index):
    agent, author, expert = people["agent"], people["author"], people["expert"]
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Customer cannot find the invoice marmotword", body="Where is it?", tags=["accounts"]))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, author, "marmotword") == [question.id]

    # The asker rewords the question: agents find the new words, not the old ones.
    db.refresh(question)
    content.save_revision(session=db, actor=agent, entry=question, data=RevisionCreate(
        title="Customer cannot download the invoice ermineword", body="Where is the PDF?", tags=["accounts"],
        base_revision_id=question.latest_revision_id))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, author, "ermineword") == [question.id]
    assert found(index, author, "marmotword") == []

    # An answer is a draft for its author until an expert certifies it; then agents find it.
    db.refresh(question)
    answer = forum.answer_question(session=db, actor=author, question=question, data=AnswerCreate(
        body="Billing, then Invoices, then the download arrow stoatword."))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, agent, "stoatword") == []
    assert found(index, author, "stoatword", include_drafts=True) == [answer.id]
    certify(db, answer, author, expert)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    [hit] = hits(index, agent, "stoatword")
    assert (hit.entry_id, hit.kind, hit.certified) == (answer.id, "answer", True)

    # Promoting it starts an article draft: its promoter finds it among drafts, agents once certified.
    db.refresh(answer)
    forum.accept_answer(session=db, actor=agent, answer=answer)
    promoted = forum.promote_answer(session=db, actor=author, answer=answer)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, author, "stoatword", include_drafts=True)) == sorted([answer.id, promoted.id])
    assert found(index, agent, "stoatword") == [answer.id]
    certify(db, promoted, author, expert)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "stoatword")) == sorted([answer.id, promoted.id])
    assert pending(db) == 0


def test_rewording_a_question_renames_its_untitled_answers_in_the_index(engine, db, people, index):
    agent, author, expert = people["agent"], people["author"], people["expert"]
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Parcel stuck wombatword", body="No scan for a week.", tags=["accounts"]))
    db.commit()
    answer = forum.answer_question(session=db, actor=author, question=question,
                                   data=AnswerCreate(body="Open a carrier trace after five days."))
    untitled = content.save_revision(session=db, actor=author, entry=answer, data=RevisionCreate(
        title="", body="Open a carrier trace after five days.", tags=["accounts"],
        base_revision_id=answer.latest_revision_id))
    assert untitled.title == ""  # as an answer edited through the API without a title
    certify(db, answer, author, expert, revision_id=untitled.id)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "wombatword")) == sorted([question.id, answer.id])  # "Re: <title>"

    db.refresh(question)
    content.save_revision(session=db, actor=agent, entry=question, data=RevisionCreate(
        title="Parcel stuck pangolinterm", body="No scan for a week.", tags=["accounts"],
        base_revision_id=question.latest_revision_id))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "pangolinterm")) == sorted([question.id, answer.id])
    assert found(index, agent, "wombatword") == []


def test_accepting_an_answer_gives_it_its_questions_wording_and_switching_takes_it_back(engine, db, people, index):
    agent, author, expert = people["agent"], people["author"], people["expert"]
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Parcel stuck numbatword", body="No scan for a week.", tags=["accounts"]))
    db.commit()
    answers = []
    for title, body in (("Carrier trace", "Open a carrier trace after five days."),
                        ("Call the depot", "The local depot can look for it.")):
        answer = forum.answer_question(session=db, actor=author, question=question, data=AnswerCreate(body=body))
        titled = content.save_revision(session=db, actor=author, entry=answer, data=RevisionCreate(
            title=title, body=body, tags=["accounts"], base_revision_id=answer.latest_revision_id))
        certify(db, answer, author, expert, revision_id=titled.id)
        answers.append(answer)
    first, second = answers
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert found(index, agent, "numbatword") == [question.id]  # titled answers: not yet

    db.refresh(question)
    forum.accept_answer(session=db, actor=agent, answer=first)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "numbatword")) == sorted([question.id, first.id])
    [doc] = [d for d in documents_for_entry(session=db, entry_id=first.id)[0] if d.audience == "public"]
    assert doc.accepted and doc.context.startswith("Parcel stuck numbatword")

    # Rewording the question rewords the accepted answer's context.
    db.refresh(question)
    content.save_revision(session=db, actor=agent, entry=question, data=RevisionCreate(
        title="Parcel stuck quokkaterm", body="No scan for a week.", tags=["accounts"],
        base_revision_id=question.latest_revision_id))
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "quokkaterm")) == sorted([question.id, first.id])
    assert found(index, agent, "numbatword") == []

    # Accepting another answer moves the context to it.
    db.refresh(question)
    forum.accept_answer(session=db, actor=agent, answer=second)
    db.commit()
    outbox.drain(engine=engine, backend=index)
    assert sorted(found(index, agent, "quokkaterm")) == sorted([question.id, second.id])
    assert pending(db) == 0

    # Built together (the indexer's batches, kb reindex) or one by one: the same documents.
    ids = [second.id, question.id, first.id]
    together, deletes = documents_for_entries(session=db, entry_ids=ids)
    assert together == [doc for i in ids for doc in documents_for_entry(session=db, entry_id=i)[0]]
    assert deletes == [d for i in ids for d in documents_for_entry(session=db, entry_id=i)[1]]


# --- hybrid search: vectors in a second pass ------------------------------------------------------


def embedding_lag(db) -> int:
    db.commit()
    return outbox.lagging_count(session=db, older_than=timedelta(0), semantic=True)


def test_vectors_come_in_a_second_pass_that_never_holds_up_keyword_search(engine, db, people, semantic_index):
    entry = article(db, people["author"], title="Parcel shows as delivered but never arrived",
                    body="Open a carrier trace; check the neighbours and the safe place.", tags=("accounts",))
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    outbox.drain(engine=engine, backend=semantic_index)  # the first pass only
    assert found(semantic_index, people["agent"], "carrier trace") == [entry.id]
    docs, _ = documents_for_entry(session=db, entry_id=entry.id)
    assert semantic_index.missing_vectors(docs) == docs
    assert embedding_lag(db) == 4 and outbox.lagging_count(session=db, older_than=timedelta(0)) == 0

    report = outbox.drain(engine=engine, backend=semantic_index, embed=True)
    assert report.embedded >= 1 and semantic_index.missing_vectors(docs) == []
    assert embedding_lag(db) == 0
    assert found(semantic_index, people["agent"], "my package says it arrived but the porch is empty")[0] == entry.id


def test_a_model_change_re_embeds_everything(engine, db, people, semantic_index):
    entry = article(db, people["author"], title="Mobile app signs users out", body="Clear the app cache.")
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    outbox.drain(engine=engine, backend=semantic_index, embed=True)
    docs, _ = documents_for_entry(session=db, entry_id=entry.id)
    assert semantic_index.missing_vectors(docs) == []
    semantic_index.reset_vectors("some-older-model")  # as if the vectors came from another model
    assert semantic_index.missing_vectors(docs) == docs
    outbox.drain(engine=engine, backend=semantic_index, embed=True)
    from search.embedding import MODEL_ID

    assert semantic_index.vector_model() == MODEL_ID and semantic_index.missing_vectors(docs) == []


def test_reindex_embeds_what_has_no_vectors_with_progress(engine, db, people, semantic_index):
    entry = article(db, people["author"])
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    steps: list[tuple[int, int]] = []
    search_service.reindex(engine=engine, backend=semantic_index, embed_progress=lambda done, total: steps.append((done, total)))
    assert steps[0] == (0, 1) and steps[-1] == (1, 1)
    assert embedding_lag(db) == 0
    steps.clear()
    search_service.reindex(engine=engine, backend=semantic_index, embed_progress=lambda done, total: steps.append((done, total)))
    assert steps == [(0, 0)]  # unchanged documents keep their vectors


def test_without_semantic_search_no_model_is_needed(engine, db, people, tmp_path):
    backend = EmbeddedBackend(tmp_path / "lexical", semantic=False)
    entry = article(db, people["author"])
    certify(db, entry, people["author"], people["expert"])
    db.commit()
    report = outbox.drain(engine=engine, backend=backend, embed=True)
    assert report.embedded == 0 and found(backend, people["agent"], "password") == [entry.id]
    backend.close()
