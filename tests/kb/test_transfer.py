"""Import and export of Markdown files, and the demo content loader (on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from kb import events
from kb.content import transfer
from kb.content.forum import ask_question
from kb.content.models import Entry, EntryKind, Revision, RevisionTag, Tag
from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content.service import create_article, tags_of
from kb.content.transfer import export_folder, format_document, import_folder, parse_document, read_document
from kb.demo_accounts_and_content import load_demo_accounts, load_demo_content
from kb.errors import NotFound
from kb.markdown import MAX_BODY_CHARS
from tests.helpers import rows

TRICKY_BODIES = [
    "Trailing newlines survive.\n\n\n",
    "\n\n   Leading blank lines and spaces.",
    "---\nA body that starts like front matter\n---\n",
    "Text\n---\ntitle: not front matter\n---\nmore text\n",
    "Unicode: café, Straße, 日本語, emoji 🎉, zero\u200bwidth, RTL \u05e9\u05dc\u05d5\u05dd\n",
    "No trailing newline at all",
    "Tabs\tand trailing spaces   \n   \n",
    "```yaml\n---\nkey: value\n...\n```\n",
    "A lone\rcarriage return stays.\n",
    "----\nfour dashes is a rule, not a delimiter\n",
]
TRICKY_TITLES = ["Yes", "123", "null", "a: b # c", "'single' and \"double\" quotes", "Ünïcödé — 🎉", "[not a list]",
                 "- dash first", "---", "100% sure", "@mention & {braces}"]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def content_of(db, entry_ids: list[int]) -> list[tuple]:
    """(kind, author, title, tags, body) of each entry's latest revision, in the order given."""
    db.commit()  # a fresh snapshot: the import committed through its own connections
    entries = [db.get(Entry, i) for i in entry_ids]
    tags = tags_of(session=db, revision_ids=[e.latest_revision_id for e in entries])
    result = []
    for entry in entries:
        revision = db.get(Revision, entry.latest_revision_id)
        result.append((entry.kind, entry.author_id, revision.title, tags[revision.id], revision.body))
    return result


def entry_ids(db) -> list[int]:
    db.commit()
    return list(db.exec(select(Entry.id).where(Entry.kind != EntryKind.answer.value).order_by(Entry.id)))


# --- the file format -------------------------------------------------------------------------


@pytest.mark.parametrize("body", TRICKY_BODIES + [""])
def test_format_and_parse_keep_the_body_byte_for_byte(body):
    meta = {"title": "T", "tags": ["a", "b"], "kind": "article"}
    assert parse_document(format_document(meta, body)) == (meta, body)


@pytest.mark.parametrize("title", TRICKY_TITLES)
def test_titles_that_look_like_yaml_stay_text(title):
    meta, _ = parse_document(format_document({"title": title, "tags": []}, "x"))
    assert meta["title"] == title


def test_crlf_and_byte_order_mark_are_read_as_plain_lf_text():
    meta, body = parse_document("\ufeff---\r\ntitle: Windows\r\ntags: [a]\r\n---\r\nline one\r\nline two\r\n")
    assert meta == {"title": "Windows", "tags": ["a"]} and body == "line one\nline two\n"


def test_file_names_are_slug_and_id():
    assert transfer.file_name("Customer charged twice — what now?", 42) == "customer-charged-twice-what-now-42.md"
    assert transfer.file_name("日本語", 7) == "entry-7.md"
    assert len(transfer.file_name("x" * 300, 1)) < 70


# --- round trip through the database ----------------------------------------------------------


def test_export_then_import_preserves_title_tags_and_body_exactly(engine, db, make_user, tmp_path):
    admin = make_user("admin", email="admin@example.com")
    author = make_user("author", email="ann@example.com")
    agent = make_user("agent", email="agent@example.com")
    originals = []
    for i, body in enumerate(TRICKY_BODIES):
        title = TRICKY_TITLES[i % len(TRICKY_TITLES)] + f" {i}"
        tags = [["billing", "refunds", "eu-vat"], [], ["orders"]][i % 3]
        if i % 4 == 3:
            entry = ask_question(session=db, actor=agent, data=QuestionCreate(title=title, body=body, tags=tags))
        else:
            entry = create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body, tags=tags))
        originals.append(entry.id)
    db.commit()
    before = content_of(db, originals)

    assert export_folder(engine=engine, path=tmp_path / "out", actor=admin) == len(originals)
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == len(originals)
    first = (tmp_path / "out" / transfer.file_name(before[0][2], originals[0])).read_text(encoding="utf-8")
    assert first.startswith("---\ntitle: ") and "\nauthor: ann@example.com\n" in first and "\nrevision: 1\n" in first

    report = import_folder(engine=engine, path=tmp_path / "out", actor_email="admin@example.com")
    assert report.refused == [] and report.imported == len(originals) and report.files == len(originals)
    assert report.questions == sum(kind == "question" for kind, *_ in before)
    imported = [i for i in entry_ids(db) if i not in originals]
    # Files are imported in file-name order; compare as sets of content.
    assert sorted(content_of(db, imported)) == sorted(before)

    # Exporting again writes the same files, apart from the id.
    export_folder(engine=engine, path=tmp_path / "again", actor=admin)
    texts = {}
    for path in (tmp_path / "again").iterdir():
        meta, body = read_document(path)
        texts.setdefault((meta["title"], body), []).append(meta.pop("id"))
    assert all(len(ids) == 2 for ids in texts.values()) and len(texts) == len(originals)


def test_import_writes_what_the_service_writes(engine, db, make_user, tmp_path, monkeypatch):
    author = make_user("author", email="ann@example.com")
    seen = []
    monkeypatch.setitem(events._handlers, "entry.created", [lambda session, event: seen.append(event)])
    by_service = create_article(session=db, actor=author,
                                data=ArticleCreate(title="Same", body="Body\n", tags=["Billing", "EU VAT"]))
    db.commit()
    write(tmp_path, "same.md", "---\ntitle: Same\ntags: [Billing, EU VAT]\nauthor: Ann@Example.com\n---\nBody\n")
    import_folder(engine=engine, path=tmp_path, actor_email="ann@example.com")
    by_import = db.get(Entry, max(entry_ids(db)))

    service_event, import_event = seen
    assert import_event.name == service_event.name == "entry.created"
    assert import_event.entry_id == by_import.id and import_event.revision_id == by_import.latest_revision_id
    assert import_event.actor_id == service_event.actor_id
    # The same data, plus the mark that it was imported (routing notifies nobody about history).
    assert import_event.data == {**service_event.data, "imported": True}

    def shape(entry):
        revision = db.get(Revision, entry.latest_revision_id)
        tags = [(t.tag_id, t.position) for t in rows(db, RevisionTag, revision_id=revision.id)]
        return (entry.kind, entry.parent_id, entry.author_id, entry.certified_revision_id, entry.accepted_answer_id,
                entry.promoted_from_id, entry.created_at == entry.activity_at, revision.number, revision.parent_id,
                revision.title, revision.body, revision.author_id, revision.state, sorted(tags))

    assert shape(by_import) == shape(db.get(Entry, by_service.id))
    assert len(rows(db, Tag)) == 2


def test_refused_files_have_reasons_and_do_not_stop_the_import(engine, db, make_user, tmp_path):
    make_user("admin", email="admin@example.com")
    make_user("agent", email="agent@example.com")
    good = "---\ntitle: Good {n}\ntags: [topic-{n}]\n---\nFine.\n"
    for n in range(7):
        write(tmp_path, f"good-{n}.md", good.format(n=n))
    write(tmp_path, "nested/deeper/good-question.md", "---\ntitle: Asked\nkind: question\n---\nWhy?\n")
    write(tmp_path, ".hidden/skipped.md", "not even front matter")
    write(tmp_path, "notes.txt", "not markdown, not looked at")
    bad = {
        "no-front-matter.md": ("# Just a heading\n", "no front matter"),
        "bad-yaml.md": ("---\ntitle: [unclosed\n---\nx\n", "not valid YAML"),
        "not-a-mapping.md": ("---\n- a\n- b\n---\nx\n", "key: value"),
        "no-title.md": ("---\ntags: [a]\n---\nBody\n", "no title"),
        "empty-body.md": ("---\ntitle: Empty\n---\n \n\n", "body is empty"),
        "too-long-title.md": (f"---\ntitle: {'t' * 201}\n---\nx\n", "at most 200 characters"),
        "too-large.md": ("---\ntitle: Huge\n---\n" + "x" * (MAX_BODY_CHARS + 1), "too long"),
        "bad-kind.md": ("---\ntitle: Answer?\nkind: answer\n---\nx\n", "use article or question"),
        "too-many-tags.md": ("---\ntitle: Tags\ntags: [a,b,c,d,e,f,g,h,i,j,k]\n---\nx\n", "at most 10 tags"),
        "tags-as-mapping.md": ("---\ntitle: Tags\ntags: {a: 1}\n---\nx\n", "Tags must be a list"),
        "unknown-author.md": ("---\ntitle: Ghost\nauthor: ghost@example.com\n---\nx\n", "ghost@example.com"),
        "agent-article.md": ("---\ntitle: By an agent\nauthor: agent@example.com\n---\nx\n", "cannot write articles"),
        "latin-1.md": ("---\ntitle: Caf\xe9\n---\nx\n".encode("latin-1"), "not UTF-8"),
    }
    for name, (text, _) in bad.items():
        write(tmp_path, name, text)
    calls = []

    report = import_folder(engine=engine, path=tmp_path, actor_email="admin@example.com", batch_size=3,
                           progress=lambda done, total: calls.append((done, total)))

    total = 8 + len(bad)
    assert (report.files, report.articles, report.questions, report.tags_created) == (total, 7, 1, 7)
    reasons = {str(path): reason for path, reason in report.refused}
    assert set(reasons) == set(bad)
    for name, (_, expected) in bad.items():
        assert expected in reasons[name], (name, reasons[name])
    assert calls[-1] == (total, total) and len(calls) == -(-total // 3)
    assert {t for _, _, t, _, _ in content_of(db, entry_ids(db))} == {f"Good {n}" for n in range(7)} | {"Asked"}


def test_front_matter_values_are_read_leniently(engine, db, make_user, tmp_path):
    make_user("admin", email="admin@example.com")
    write(tmp_path, "a.md", "---\ntitle: 2024\ntags: Billing, EU VAT , billing\nkind: Question\n---\nWhen?\n")
    write(tmp_path, "b.md", "---\ntitle:   Spaced    out  \ntags: [42, null, Refunds]\nauthor:\n---\nx\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email="ADMIN@example.com ")
    assert report.refused == [] and (report.articles, report.questions) == (1, 1)
    stored = content_of(db, entry_ids(db))
    assert [(kind, title, tags) for kind, _, title, tags, _ in stored] == [
        ("question", "2024", ["billing", "eu-vat"]), ("article", "Spaced out", ["42", "refunds"])]


def test_an_agent_may_import_own_questions_only(engine, db, make_user, tmp_path):
    make_user("agent", email="agent@example.com")
    make_user("author", email="ann@example.com")
    write(tmp_path, "mine.md", "---\ntitle: My question\nkind: question\n---\nHow?\n")
    write(tmp_path, "theirs.md", "---\ntitle: Theirs\nkind: question\nauthor: ann@example.com\n---\nHow?\n")
    write(tmp_path, "article.md", "---\ntitle: An article\n---\nText\n")
    report = import_folder(engine=engine, path=tmp_path, actor_email="agent@example.com")
    assert report.questions == 1 and report.articles == 0
    reasons = dict(report.refused)
    assert "Only an administrator" in reasons[Path("theirs.md")]
    assert "cannot write articles" in reasons[Path("article.md")]


def test_a_batch_the_database_refuses_is_retried_file_by_file(engine, db, make_user, tmp_path, monkeypatch):
    make_user("admin", email="admin@example.com")
    for n in range(5):
        write(tmp_path, f"f{n}.md", f"---\ntitle: File {n}\ntags: [new-tag, tag-{n}]\n---\nText {n}\n")
    insert = transfer._insert_documents

    def failing(session, documents, **kwargs):
        if any(d.title == "File 2" for d in documents):
            raise IntegrityError("INSERT", None, Exception("simulated"))
        return insert(session, documents, **kwargs)

    monkeypatch.setattr(transfer, "_insert_documents", failing)
    report = import_folder(engine=engine, path=tmp_path, actor_email="admin@example.com", batch_size=5)
    assert report.imported == 4 and [str(p) for p, _ in report.refused] == ["f2.md"]
    assert "database refused" in report.refused[0][1]
    # Tags made in the rolled-back batch were made again, not taken from a stale cache.
    assert report.tags_created == 5 and len(rows(db, Tag)) == 5


def test_import_needs_a_folder_and_a_known_importer(engine, db, make_user, tmp_path):
    make_user("admin", email="admin@example.com")
    with pytest.raises(NotFound, match="does not exist"):
        import_folder(engine=engine, path=tmp_path / "missing", actor_email="admin@example.com")
    with pytest.raises(NotFound, match="nobody@example.com"):
        import_folder(engine=engine, path=tmp_path, actor_email="nobody@example.com")


def test_export_as_an_agent_leaves_out_uncertified_articles(engine, db, make_user, tmp_path):
    author = make_user("author")
    agent = make_user("agent")
    draft = create_article(session=db, actor=author, data=ArticleCreate(title="Draft", body="x", tags=[]))
    certified = create_article(session=db, actor=author, data=ArticleCreate(title="Certified", body="y", tags=[]))
    certified.certified_revision_id = certified.latest_revision_id
    ask_question(session=db, actor=author, data=QuestionCreate(title="Open question", body="z", tags=[]))
    db.commit()
    assert export_folder(engine=engine, path=tmp_path, actor=agent) == 2
    titles = {read_document(p)[0]["title"] for p in tmp_path.iterdir()}
    assert titles == {"Certified", "Open question"} and draft.id


# --- demo content ----------------------------------------------------------------------------


def test_demo_content_loads_once_by_its_authors(engine, db):
    load_demo_accounts(session=db)
    report = load_demo_content(session=db)
    db.commit()
    assert report.articles >= 40 and report.questions >= 20 and report.answers >= report.accepted >= 15
    assert report.authors_created == ["maria.lopez@example.com", "sam.okafor@example.com", "priya.nair@example.com"]
    count = db.exec(select(func.count()).select_from(Entry)).one()
    assert count == report.articles + report.questions + report.answers
    topics = db.exec(select(func.count(func.distinct(RevisionTag.tag_id)))).one()
    assert topics >= 8
    accepted = db.exec(select(func.count()).select_from(Entry).where(Entry.accepted_answer_id.is_not(None))).one()
    assert accepted == report.accepted
    authors = set(db.exec(select(Entry.author_id).where(Entry.kind == EntryKind.article.value)))
    assert len(authors) >= 4

    again = load_demo_content(session=db)
    db.commit()
    assert (again.articles, again.questions, again.answers, again.authors_created) == (0, 0, 0, [])
    assert again.skipped == report.articles + report.questions
    assert db.exec(select(func.count()).select_from(Entry)).one() == count


def test_an_import_brings_the_planners_statistics_up_to_date(engine, db, make_user, tmp_path):
    """PostgreSQL plans with statistics: a bulk import analyses the tables it filled, so the first
    votes after it are not planned for empty tables (seconds per vote at 100,000 entries)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's planner works without statistics (kb.content.transfer.refresh_statistics)")
    author = make_user("author", email="stats-author@example.com")
    write(tmp_path, "one.md", "---\ntitle: Refund an order\ntags: [billing]\n---\nFrom the billing page.\n")
    db.commit()
    with engine.connect() as connection:
        before = connection.exec_driver_sql(
            "SELECT coalesce(analyze_count, 0) FROM pg_stat_user_tables WHERE relname = 'revision'").scalar()
    report = import_folder(engine=engine, path=tmp_path, actor_email=author.email)
    assert report.created == 1
    with engine.connect() as connection:
        after = connection.exec_driver_sql(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'revision'").scalar()
    assert after > before
