"""``kb import`` / ``kb export`` with workflow state (``workflow.transfer``): certified imports,
idempotent re-imports, forum threads and the export -> import round trip (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from kb.accounts.actors import SYSTEM
from kb.clock import utcnow
from kb.content import forum
from kb.content import service as content
from kb.content.frontmatter import format_document, read_document
from kb.content.models import Entry, EntryKind, Revision, RevisionTag, Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.transfer import ImportOptions
from kb.content.transfer import import_folder as content_import
from search import outbox
from search import service as search_service
from search.embedded import EmbeddedBackend
from search.models import SearchOutbox
from tests.conftest import _empty_all_tables
from tests.helpers import rows
from workflow import audit
from workflow import service as wf_service
from workflow.models import Action, Certification, CertificationStatus
from workflow.policy import designate_expert
from workflow.transfer import export_folder, import_folder

ADMIN, ANN, ERIN, OTTO, AGENT = ("admin@example.com", "ann@example.com", "erin@example.com", "otto@example.com",
                                 "agent@example.com")


@pytest.fixture
def team(db, make_user):
    """An admin, an author, Erin (expert of billing), Otto (an expert of nothing) and an agent."""
    def make():
        people = {"admin": make_user("admin", "expert", "author", email=ADMIN),
                  "ann": make_user("author", email=ANN), "erin": make_user("expert", "author", email=ERIN),
                  "otto": make_user("expert", email=OTTO), "agent": make_user("agent", email=AGENT)}
        content.create_article(session=db, actor=people["admin"],  # the topic exists before Erin is its expert
                               data=ArticleCreate(title="Seed", body="Seed.", tags=["billing"]))
        designate_expert(session=db, actor=SYSTEM, topic="billing", user=people["erin"])
        db.commit()
        return people
    people = make()
    people["again"] = make  # a fresh database for round trips: empty the tables, then call it
    return people


def write(folder: Path, name: str, meta: dict, body: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_document(meta, body), encoding="utf-8")


def imported(db, kind: str | None = None) -> list[Entry]:
    db.commit()
    db.expire_all()
    statement = select(Entry).where(Entry.source_key.is_not(None)).order_by(Entry.id)
    if kind:
        statement = statement.where(Entry.kind == kind)
    return list(db.exec(statement))


def certified(**fields) -> ImportOptions:
    return ImportOptions(state="certified", **fields)


# --- certified import ---------------------------------------------------------------------------


def test_certified_import_is_certified_in_search_and_in_the_audit_trail(engine, db, team, tmp_path):
    write(tmp_path / "src", "billing/refund.md", {"title": "Refund a double charge", "tags": ["billing"],
                                                  "author": ANN}, "Refund the second charge within 5 days.\n")
    report = import_folder(engine=engine, path=tmp_path / "src", actor_email=ADMIN,
                           options=certified(certified_by=ERIN, valid_days=30))
    assert report.refused == [] and (report.created, report.certified, report.articles) == (1, 1, 1)

    (entry,) = imported(db)
    assert entry.source_key == "billing/refund.md" and entry.certified_revision_id == entry.latest_revision_id
    assert db.get(Revision, entry.latest_revision_id).state == "certified"
    cert = db.get(Certification, entry.id)
    assert cert.certified_by == team["erin"].id and cert.status == CertificationStatus.active.value
    assert abs(cert.valid_until - (utcnow() + timedelta(days=30))) < timedelta(minutes=5)
    (event,) = audit.history(session=db, entry_id=entry.id)
    assert event.action == "import certification" and event.actor_id == team["admin"].id
    assert event.signature == f"certified by {ERIN} as expert of billing"
    assert "Imported from billing/refund.md" in event.comment and (event.from_state, event.to_state) == (
        "draft", "certified")
    # Certified authorship counts toward expertise (recomputed once per import transaction).
    from expertise.models import ExpertiseScore
    assert any(s.user_id == team["ann"].id and s.score > 0 for s in rows(db, ExpertiseScore))

    # Agents find it as certified content, through the outbox like any certification.
    outbox.register()
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        outbox.drain(engine=engine, backend=backend)
        hits = search_service.search(backend=backend, viewer_user=team["agent"], text="double charge").hits
        assert [(h.entry_id, h.certified, h.needs_reverification) for h in hits] == [(entry.id, True, False)]
    finally:
        backend.close()


def test_validity_defaults_to_the_topic_policy_and_a_past_one_needs_reverification(engine, db, team, tmp_path):
    from workflow.policy import set_policy
    set_policy(session=db, actor=SYSTEM, topic="billing", required_approvals=1, validity_days=45, reminder_days=7,
               approval_certifies=False, experts_only_review=False)
    db.commit()
    write(tmp_path, "a.md", {"title": "Policy validity", "tags": ["billing"], "author": ANN, "state": "certified",
                             "certified_by": ERIN}, "Text.\n")
    write(tmp_path, "b.md", {"title": "Long expired", "tags": ["billing"], "author": ANN, "state": "certified",
                             "certified_by": ADMIN, "certified_at": "2020-01-01T09:00:00Z",
                             "valid_until": "2020-04-01T09:00:00Z"}, "Old text.\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    assert report.refused == [] and report.certified == 2
    a, b = imported(db)
    fresh, old = db.get(Certification, a.id), db.get(Certification, b.id)
    assert abs(fresh.valid_until - (utcnow() + timedelta(days=45))) < timedelta(minutes=5)
    assert old.certified_at.year == 2020 and old.status == CertificationStatus.needs_reverification.value
    assert audit.history(session=db, entry_id=b.id)[0].signature == f"certified by {ADMIN} as administrator"


def test_only_experts_of_the_topic_or_admins_certify_and_never_their_own_text(engine, db, team, tmp_path):
    base = {"tags": ["billing"], "author": ANN, "state": "certified"}
    write(tmp_path, "not-expert.md", {"title": "By Otto", **base, "certified_by": OTTO}, "x\n")
    write(tmp_path, "own.md", {"title": "Own text", **base, "author": ERIN, "certified_by": ERIN}, "x\n")
    write(tmp_path, "ghost.md", {"title": "Ghost", **base, "certified_by": "ghost@example.com"}, "x\n")
    write(tmp_path, "nobody.md", {"title": "Nobody", **base}, "x\n")
    write(tmp_path, "other-topic.md", {"title": "Shipping", **base, "tags": ["shipping"], "certified_by": ERIN},
          "x\n")
    write(tmp_path, "fine.md", {"title": "Fine", **base, "certified_by": ERIN}, "x\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    reasons = {str(p): r for p, r in report.refused}
    assert "not an expert of its topics" in reasons["not-expert.md"]
    assert "four eyes" in reasons["own.md"]
    assert "ghost@example.com" in reasons["ghost.md"]
    assert "nobody is named" in reasons["nobody.md"]
    assert "not an expert of its topics" in reasons["other-topic.md"]
    assert report.created == report.certified == 1 and len(reasons) == 5
    assert [e.source_key for e in imported(db)] == ["fine.md"]  # refused files left nothing behind

    # Only an administrator imports certified content; kb.content alone cannot certify at all.
    write(tmp_path / "mine", "mine.md", {"title": "Mine", "tags": ["billing"], "state": "certified",
                                          "certified_by": ERIN}, "x\n")
    by_author = import_folder(engine=engine, path=tmp_path / "mine", actor_email=ANN)
    assert "Only an administrator can import certified content" in by_author.refused[0][1]
    without = content_import(engine=engine, path=tmp_path / "mine", actor_email=ADMIN)
    assert "kb's workflow" in without.refused[0][1] and len(imported(db)) == 1


# --- importing again ------------------------------------------------------------------------------


def test_importing_again_skips_or_updates_instead_of_duplicating(engine, db, team, tmp_path):
    for n in range(3):
        write(tmp_path, f"doc-{n}.md", {"title": f"Doc {n}", "tags": ["billing"], "author": ANN}, f"Body {n}\n")
    first = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    assert (first.created, first.updated, first.skipped) == (3, 0, 0)

    write(tmp_path, "doc-1.md", {"title": "Doc 1", "tags": ["billing", "refunds"], "author": ANN}, "New body\n")
    again = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    assert (again.created, again.updated, again.skipped, again.refused) == (0, 0, 3, [])
    assert len(imported(db)) == 3

    update = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN, options=ImportOptions(on_existing="update"))
    assert (update.created, update.updated, update.skipped) == (0, 1, 2)
    changed = next(e for e in imported(db) if e.source_key == "doc-1.md")
    latest = db.get(Revision, changed.latest_revision_id)
    assert (latest.number, latest.body, latest.state) == (2, "New body\n", "draft")
    assert content.tags_of(session=db, revision_ids=[latest.id])[latest.id] == ["billing", "refunds"]

    # Updating with certification certifies the new revision; the next update certifies a newer one
    # and supersedes the old, and an unchanged certified file is skipped.
    opts = ImportOptions(on_existing="update", state="certified", certified_by=ERIN)
    assert import_folder(engine=engine, path=tmp_path, actor_email=ADMIN, options=opts).updated == 3
    write(tmp_path, "doc-1.md", {"title": "Doc 1", "tags": ["billing"], "author": ANN}, "Third body\n")
    last = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN, options=opts)
    assert (last.updated, last.skipped, last.certified) == (1, 2, 1)
    revisions = rows(db, Revision, entry_id=changed.id)
    assert sorted((r.number, r.state) for r in revisions) == [(1, "draft"), (2, "superseded"), (3, "certified")]
    assert [e.action for e in audit.history(session=db, entry_id=changed.id)] == [
        "import certification", "supersede", "import certification"]


def test_a_large_import_certifies_tags_audits_and_indexes_every_batch(engine, db, team, tmp_path):
    """1,200 files in three batches of 500 (the bulk path): certified by an expert or an admin,
    drafts, questions with certified and accepted answers, new tags, one refused file per batch;
    then the indexer makes every certified entry searchable, and importing again skips them all."""
    src, expected = tmp_path / "src", {}
    for n in range(1200):
        tags = ["billing", f"topic-{n % 7}"] if n % 2 else [f"topic-{n % 7}"]
        meta = {"title": f"Bulk {n}", "tags": tags, "author": ANN}
        if n % 400 == 399:  # Otto is an expert of nothing: refused, the rest of the batch is imported
            meta |= {"state": "certified", "certified_by": OTTO}
        elif n % 10 == 0:
            meta |= {"kind": "question", "answers": [
                {"author": ANN, "body": f"Answer bulkword{n} a.\n", "state": "certified", "certified_by": ADMIN},
                {"author": ANN, "body": f"Answer {n} b.\n", "accepted": True}]}
        elif n % 3:
            meta |= {"state": "certified", "certified_by": ERIN if n % 2 else ADMIN}
        write(src, f"part-{n % 4}/doc-{n}.md", meta, f"Body bulkword{n}.\n")
        expected[f"part-{n % 4}/doc-{n}.md"] = meta
    calls = []
    report = import_folder(engine=engine, path=src, actor_email=ADMIN,
                           progress=lambda done, total: calls.append((done, total)))
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)]
    refused = sorted(k for k, m in expected.items() if m.get("certified_by") == OTTO)
    assert sorted(str(p) for p, _ in report.refused) == refused and len(refused) == 3
    questions = [k for k, m in expected.items() if m.get("kind") == "question"]
    certified_articles = [k for k, m in expected.items() if "certified_by" in m and k not in refused]
    assert (report.created, report.questions, report.answers) == (1197, 120, 240)
    assert report.certified == len(certified_articles) + len(questions)  # one answer of each question
    assert report.tags_created == 7  # billing existed

    entries = {e.source_key: e for e in imported(db)}
    assert len(entries) == 1197 + 240 and not set(refused) & entries.keys()
    certs = {c.entry_id: c for c in rows(db, Certification)}
    events = {}
    for event in rows(db, audit.WorkflowEvent):
        events.setdefault(event.entry_id, []).append(event)
    tag_counts = dict(db.exec(select(RevisionTag.revision_id, func.count()).group_by(RevisionTag.revision_id)).all())
    for key in certified_articles:
        entry, meta = entries[key], expected[key]
        assert entry.certified_revision_id == entry.latest_revision_id
        assert certs[entry.id].certified_by == team["erin" if meta["certified_by"] == ERIN else "admin"].id
        (event,) = events[entry.id]
        role = "as expert of billing" if meta["certified_by"] == ERIN else "as administrator"
        assert (event.action, event.signature) == ("import certification",
                                                   f"certified by {meta['certified_by']} {role}")
        assert f"Imported from {key}" in event.comment
        assert tag_counts[entry.latest_revision_id] == len(meta["tags"])
    for key in questions:
        question, first, second = entries[key], entries[f"{key}#answer-1"], entries[f"{key}#answer-2"]
        assert question.accepted_answer_id == second.id and question.certified_revision_id is None
        assert first.certified_revision_id == first.latest_revision_id and second.certified_revision_id is None
        assert [e.action for e in events[first.id]] == ["import certification"]
    drafts = [k for k, m in expected.items() if "state" not in m and m.get("kind") != "question"]
    assert drafts and all(entries[k].certified_revision_id is None and entries[k].id not in events for k in drafts)
    assert set(db.exec(select(Tag.name))) >= {f"topic-{n}" for n in range(7)}

    # Every imported entry has an outbox row; the indexer makes every certified entry searchable.
    outbox.register()
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        assert {r.entry_id for r in rows(db, SearchOutbox) if r.done_at is None} >= {e.id for e in entries.values()}
        drained = outbox.drain_backlog(engine=engine, backend=backend)
        assert drained.failed == 0 and drained.entries == len(entries) + 1  # and the seed article's
        hits = search_service.search(backend=backend, viewer_user=team["agent"], text="body", certified_only=True)
        assert hits.total == len(certified_articles)
        found = search_service.search(backend=backend, viewer_user=team["agent"], text="bulkword30").hits
        assert [h.entry_id for h in found][:1] == [entries["part-2/doc-30.md#answer-1"].id]
    finally:
        backend.close()

    # Importing again: every file was imported before (the refused ones still are refused).
    audit_rows, outbox_count = len(rows(db, audit.WorkflowEvent)), len(rows(db, SearchOutbox))
    again = import_folder(engine=engine, path=src, actor_email=ADMIN)
    assert (again.created, again.skipped, again.certified, len(again.refused)) == (0, 1197, 0, 3)
    assert len(rows(db, audit.WorkflowEvent)) == audit_rows and len(rows(db, SearchOutbox)) == outbox_count


def test_source_id_from_the_front_matter_and_duplicates_refused(engine, db, team, tmp_path):
    write(tmp_path, "a.md", {"title": "A", "source_id": "old-kb/42"}, "x\n")
    write(tmp_path, "b.md", {"title": "B", "source_id": "old-kb/42"}, "x\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    assert report.created == 1 and "a.md" in report.refused[0][1] and report.refused[0][0] == Path("b.md")
    assert [e.source_key for e in imported(db)] == ["old-kb/42"]


# --- forum ------------------------------------------------------------------------------------


def test_questions_bring_their_answers_and_the_accepted_one(engine, db, team, tmp_path):
    write(tmp_path, "q.md", {"title": "Refund to a closed card?", "kind": "question", "tags": ["billing"],
                             "author": AGENT, "answers": [
                                 {"author": ANN, "body": "Ask the bank.\n"},
                                 {"author": ANN, "accepted": True, "state": "certified", "certified_by": ERIN,
                                  "body": "Refund to store credit,\n\nthen close the case.\n"}]}, "The card is closed.\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN)
    assert report.refused == [] and (report.questions, report.answers, report.certified) == (1, 2, 1)
    (question,) = imported(db, EntryKind.question.value)
    answers = forum.answers_to(session=db, question=question)
    assert [a.source_key for a in answers] == ["q.md#answer-2", "q.md#answer-1"]  # accepted first
    accepted = answers[0]
    assert question.accepted_answer_id == accepted.id and accepted.certified_revision_id is not None
    revision = db.get(Revision, accepted.latest_revision_id)
    assert revision.body == "Refund to store credit,\n\nthen close the case.\n"
    assert revision.title == "Re: Refund to a closed card?"
    assert content.tags_of(session=db, revision_ids=[revision.id])[revision.id] == ["billing"]

    # A new answer in the source arrives on update; the others stay as they are.
    write(tmp_path, "q.md", {"title": "Refund to a closed card?", "kind": "question", "tags": ["billing"],
                             "author": AGENT, "answers": [
                                 {"author": ANN, "body": "Ask the bank.\n"},
                                 {"author": ANN, "body": "Refund to store credit,\n\nthen close the case.\n",
                                  "accepted": True, "state": "certified", "certified_by": ERIN},
                                 {"author": ERIN, "body": "Also note it in the case.\n"}]}, "The card is closed.\n")
    update = import_folder(engine=engine, path=tmp_path, actor_email=ADMIN, options=ImportOptions(on_existing="update"))
    assert (update.updated, update.answers, update.certified) == (1, 1, 0)
    assert len(imported(db, EntryKind.answer.value)) == 3

    bad = {"two-accepted.md": ([{"body": "a", "accepted": True}, {"body": "b", "accepted": True}], "More than one"),
           "no-body.md": ([{"author": ANN}], "Answer 1 has no body"),
           "agent-answer.md": ([{"author": AGENT, "body": "x"}], "cannot answer")}
    for name, (answers_meta, _) in bad.items():
        write(tmp_path / "bad", name, {"title": name, "kind": "question", "answers": answers_meta}, "Q\n")
    write(tmp_path / "bad", "article-answers.md", {"title": "Article", "answers": [{"body": "x"}]}, "A\n")
    refused = import_folder(engine=engine, path=tmp_path / "bad", actor_email=ADMIN)
    reasons = {str(p): r for p, r in refused.refused}
    for name, (_, expected) in bad.items():
        assert expected in reasons[name]
    assert "Only questions have answers" in reasons["article-answers.md"] and refused.created == 0


# --- export -> import round trip ---------------------------------------------------------------


def snapshot(db) -> dict:
    """What a person sees of every article and question, by title: text, tags, author, state,
    certification and the thread (answers with their state, the accepted one marked)."""
    from kb.accounts.models import User
    db.commit()
    db.expire_all()
    emails = dict(db.exec(select(User.id, User.email)).all())

    def state(entry):
        revision = db.get(Revision, entry.certified_revision_id or entry.latest_revision_id)
        cert = db.get(Certification, entry.id) if entry.certified_revision_id else None
        return (revision, cert and (emails[cert.certified_by], cert.certified_at, cert.valid_until, cert.status))

    result = {}
    for entry in db.exec(select(Entry).where(Entry.kind != EntryKind.answer.value)):
        revision, cert = state(entry)
        if revision.title == "Seed":  # the fixture's, in both databases
            continue
        tags = content.tags_of(session=db, revision_ids=[revision.id])[revision.id]
        thread = []
        for answer in db.exec(select(Entry).where(Entry.parent_id == entry.id).order_by(Entry.id)):
            answer_revision, answer_cert = state(answer)
            thread.append((emails[answer.author_id], answer_revision.body, answer_revision.state, answer_cert,
                           answer.id == entry.accepted_answer_id))
        result[revision.title] = (entry.kind, emails[entry.author_id], revision.body, tags, revision.state, cert,
                                  thread)
    return result


def test_export_then_import_into_a_fresh_database_keeps_answers_and_workflow_state(engine, db, team, tmp_path):
    ann, erin, agent = team["ann"], team["erin"], team["agent"]

    def certify(entry, by=erin):
        revision_id = entry.latest_revision_id
        for action, actor in ((Action.submit, ann), (Action.approve, by), (Action.certify, by)):
            wf_service.transition(session=db, actor=actor, revision_id=revision_id, action=action)

    good = content.create_article(session=db, actor=ann, data=ArticleCreate(
        title="Certified article", body="---\nLooks like front matter\n---\n\n", tags=["billing"]))
    certify(good)
    content.create_article(session=db, actor=ann, data=ArticleCreate(title="Draft article", body="Draft.",
                                                                     tags=["billing", "drafts"]))
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Closed card?", body="The card is closed.\n", tags=["billing"]))
    first = forum.answer_question(session=db, actor=ann, question=question,
                                  data=AnswerCreate(body="Trailing spaces   \n\n\n"))
    forum.answer_question(session=db, actor=erin, question=question, data=AnswerCreate(body="Ask the bank."))
    certify(first)
    forum.accept_answer(session=db, actor=agent, answer=first)
    db.commit()
    before = snapshot(db)

    report = export_folder(engine=engine, path=tmp_path / "out", actor=team["admin"])
    assert (report.files, report.answers, report.certified) == (4, 2, 2)  # the seed article is exported too
    meta, _ = read_document(next((tmp_path / "out").glob("certified-article-*.md")))
    assert meta["state"] == "certified" and meta["certified_by"] == ERIN and meta["valid_until"] > meta["certified_at"]

    db.commit()
    _empty_all_tables(engine)
    db.expunge_all()
    team["again"]()
    report = import_folder(engine=engine, path=tmp_path / "out", actor_email=ADMIN)
    assert report.refused == [] and (report.created, report.answers, report.certified) == (4, 2, 2)
    assert snapshot(db) == before
    assert db.exec(select(func.count()).select_from(RevisionTag)).one() > 0

    # The same export imported again finds everything: nothing is duplicated.
    again = import_folder(engine=engine, path=tmp_path / "out", actor_email=ADMIN)
    assert (again.created, again.skipped) == (0, 4)
