"""The administrators' audit trail (``workflow.audit_trail``): filters, pages, titles, admins only,
and a fixed number of statements however many events a page shows."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from kb.accounts.actors import SYSTEM
from kb.clock import UTC, travel
from kb.content.forum import answer_question, ask_question
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from kb.errors import Forbidden, ValidationFailed
from tests.web.test_query_counts import counted
from workflow import audit_trail
from workflow.audit_trail import AuditFilter
from workflow.models import Action
from workflow.policy import designate_expert, set_policy
from workflow.service import transition

LAST_YEAR = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


@pytest.fixture
def trail(db, make_user):
    admin = make_user("admin", name="Ada Admin")
    author = make_user("author", name="Avery Author", email="avery@example.com")
    expert = make_user("expert", name="Erin Expert")
    with travel(LAST_YEAR):
        parcel = create_article(session=db, actor=author, data=ArticleCreate(
            title="Parcel lost in transit", body="Open a carrier claim.", tags=["shipping"]))
        transition(session=db, actor=author, revision_id=parcel.latest_revision_id, action=Action.submit)
    designate_expert(session=db, actor=SYSTEM, topic="shipping", user=expert)
    refund = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund 100% of a double charge", body="Refund the second charge.", tags=["billing"]))
    transition(session=db, actor=author, revision_id=refund.latest_revision_id, action=Action.submit)
    transition(session=db, actor=expert, revision_id=refund.latest_revision_id, action=Action.approve)
    question = ask_question(session=db, actor=author, data=QuestionCreate(title="Which courier for Iceland?",
                                                                          body="Asking for a customer."))
    answer = answer_question(session=db, actor=expert, question=question, data=AnswerCreate(body="Use the post."))
    transition(session=db, actor=expert, revision_id=answer.latest_revision_id, action=Action.submit)
    set_policy(session=db, actor=admin, topic="billing", required_approvals=2, validity_days=30, reminder_days=7,
               approval_certifies=False, experts_only_review=False)
    db.commit()
    return {"admin": admin, "author": author, "expert": expert, "parcel": parcel, "refund": refund,
            "answer": answer, "question": question}


def _page(db, trail, **filters):
    return audit_trail.audit_page(session=db, actor=trail["admin"], filters=AuditFilter(**filters))


def _seen(page) -> list[tuple[str, str]]:
    return [(row.event.action, row.title) for row in page.rows]


def test_every_event_newest_first_with_who_and_the_entry_title(db, trail):
    page = _page(db, trail)
    seen = _seen(page)
    assert seen[0] == ("policy.set", "")
    assert ("submit", "Answer to “Which courier for Iceland?”") in seen
    assert ("approve", "Refund 100% of a double charge") in seen
    assert seen[-4:] == [("user.create", "")] * 3 + [("submit", "Parcel lost in transit")]  # by time: last year
    approve = next(row for row in page.rows if row.event.action == "approve")
    assert approve.actor.display_name == "Erin Expert" and approve.entry.id == trail["refund"].id
    created = [row for row in page.rows if row.event.action == "user.create"]
    assert created and all(row.actor is None and row.entry is None for row in created)  # the command line
    assert page.total == len(page.rows) and page.pages == 1


@pytest.mark.parametrize(("filters", "expected"), [
    ({"who": "avery@"}, {("submit", "Parcel lost in transit"), ("submit", "Refund 100% of a double charge")}),
    ({"who": "ERIN"}, {("approve", "Refund 100% of a double charge"),
                       ("submit", "Answer to “Which courier for Iceland?”")}),
    ({"kind": "review", "entry": "refund"}, {("submit", "Refund 100% of a double charge"),
                                             ("approve", "Refund 100% of a double charge")}),
    ({"kind": "policy"}, {("policy.set", ""), ("expert.designate", "")}),
    ({"action": "approve"}, {("approve", "Refund 100% of a double charge")}),
    ({"entry": "iceland"}, {("submit", "Answer to “Which courier for Iceland?”")}),  # answers by their question
    ({"entry": "100%"}, {("submit", "Refund 100% of a double charge"),            # % is a character, not a wildcard
                         ("approve", "Refund 100% of a double charge")}),
    ({"start": date(2025, 3, 14), "end": date(2025, 3, 14)}, {("submit", "Parcel lost in transit")}),
    ({"end": date(2025, 12, 31), "kind": "content"}, {("submit", "Parcel lost in transit")}),
    ({"who": "nobody-like-this"}, set()),
])
def test_filters(db, trail, filters, expected):
    assert set(_seen(_page(db, trail, **filters))) == expected


def test_an_entry_by_its_number(db, trail):
    refund = trail["refund"].id
    for text in (str(refund), f"#{refund}"):
        assert {row.entry.id for row in _page(db, trail, entry=text).rows} == {refund}


def test_pages_are_bounded_and_count_the_whole_match(db, trail):
    for n in range(30):
        set_policy(session=db, actor=trail["admin"], topic="billing", required_approvals=1 + n % 3,
                   validity_days=30, reminder_days=7, approval_certifies=False, experts_only_review=False)
    db.commit()
    first = audit_trail.audit_page(session=db, actor=trail["admin"], filters=AuditFilter(kind="policy"), page_size=25)
    second = audit_trail.audit_page(session=db, actor=trail["admin"], filters=AuditFilter(kind="policy"),
                                    page=2, page_size=25)
    assert first.total == second.total == 32 and first.pages == 2
    assert len(first.rows) == 25 and len(second.rows) == 7
    assert not {r.event.id for r in first.rows} & {r.event.id for r in second.rows}
    assert first.rows[0].event.id > second.rows[0].event.id
    with pytest.raises(ValidationFailed, match="narrow the filters"):
        audit_trail.audit_page(session=db, actor=trail["admin"], page=audit_trail.MAX_PAGE + 1)
    with pytest.raises(ValidationFailed):
        audit_trail.audit_page(session=db, actor=trail["admin"], page_size=10_000)


@pytest.mark.parametrize(("filters", "field"), [
    ({"kind": "everything"}, "kind"),
    ({"start": date(2026, 2, 1), "end": date(2026, 1, 1)}, "end"),
    ({"who": "x" * 300}, "who"),
    ({"entry": "x" * 300}, "entry"),
])
def test_bad_filters_are_explained(db, trail, filters, field):
    with pytest.raises(ValidationFailed) as refused:
        _page(db, trail, **filters)
    assert refused.value.field == field and refused.value.message.endswith(".")


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_only_administrators_read_it(db, trail, make_user, role):
    someone = make_user(role)
    with pytest.raises(Forbidden):
        audit_trail.audit_page(session=db, actor=someone)
    with pytest.raises(Forbidden):
        audit_trail.export_csv(session=db, actor=someone, filters=AuditFilter())
    assert audit_trail.audit_page(session=db, actor=SYSTEM).total > 0  # the command line may


def test_a_page_runs_the_same_statements_for_few_or_many_events(db, trail, make_user):
    def statements() -> int:
        db.expire_all()
        with counted() as seen:
            page = audit_trail.audit_page(session=db, actor=trail["admin"], page_size=100)
            assert all(row.title for row in page.rows if row.entry is not None)
        return len(seen)

    few = statements()
    for n in range(12):
        author = make_user("author")
        entry = create_article(session=db, actor=author, data=ArticleCreate(title=f"Article {n}", body="Text.",
                                                                           tags=["billing"]))
        transition(session=db, actor=author, revision_id=entry.latest_revision_id, action=Action.submit)
        question = ask_question(session=db, actor=author, data=QuestionCreate(title=f"Question {n}", body="?"))
        answer = answer_question(session=db, actor=trail["expert"], question=question, data=AnswerCreate(body="!"))
        transition(session=db, actor=trail["expert"], revision_id=answer.latest_revision_id, action=Action.submit)
    db.commit()
    assert statements() == few


def test_the_csv_has_titles_and_stays_formula_safe(db, trail):
    hostile = create_article(session=db, actor=trail["author"], data=ArticleCreate(
        title='=HYPERLINK("http://evil.example","refund")', body="Text.", tags=["billing"]))
    transition(session=db, actor=trail["author"], revision_id=hostile.latest_revision_id, action=Action.submit)
    db.commit()
    text = audit_trail.export_csv(session=db, actor=trail["admin"], filters=AuditFilter(kind="review"))
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == audit_trail.CSV_COLUMNS
    titles = {(r["action"], r["entry_title"]) for r in table}
    assert ("approve", "Refund 100% of a double charge") in titles
    assert ("submit", "Answer to “Which courier for Iceland?”") in titles
    assert ("submit", '\'=HYPERLINK("http://evil.example","refund")') in titles
    assert [int(r["id"]) for r in table] == sorted(int(r["id"]) for r in table)  # oldest first


def test_the_csv_is_read_in_chunks_with_titles_for_every_row(db, trail, monkeypatch):
    monkeypatch.setattr(audit_trail, "EXPORT_CHUNK", 2)
    rows = list(audit_trail.export_rows(session=db, actor=trail["admin"], filters=AuditFilter(kind="content")))
    assert len(rows) == 4 and all(row.title for row in rows)
    assert len({row.event.id for row in rows}) == 4


def test_dates_to_the_end_of_the_calendar(db, trail):
    everything = _page(db, trail, start=date(2000, 1, 1), end=date.max)
    assert everything.total == _page(db, trail).total
    assert _page(db, trail, start=date.today() + timedelta(days=1)).total == 0
