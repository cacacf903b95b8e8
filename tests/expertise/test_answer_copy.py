""""Copy answer": only certified text, as plain text that reads well in a customer message."""

from __future__ import annotations

import pytest

from expertise.answer_copy import copied_answer, copy_targets, customer_heading, customer_text, readable_text
from kb.content.forum import accept_answer, answer_question, ask_question
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from kb.errors import NotFound
from tests.expertise.ratings_content import rated_content, reload
from workflow.service import archive


@pytest.fixture
def content(db, make_user):
    return rated_content(db, make_user)


def test_readable_text_keeps_the_shape_without_markdown():
    text = readable_text(
        "# Refunds\n\nRefund the **full amount** within *30 days*; see the [portal](https://example.com/r)\n"
        "or write to <help@example.com>.\n\n"
        "1. Open the order.\n2. Press `Refund`.\n   - card: 3 days\n   - gift card: at once\n\n"
        "| Method | Days |\n| --- | ---: |\n| Card | 3 |\n\n> Never promise a date.\n\n"
        "```\nREFUND 42\n```\n\nLine one  \nline two.")
    assert text == (
        "Refunds\n\n"
        "Refund the full amount within 30 days; see the portal (https://example.com/r) or write to help@example.com.\n\n"
        "1. Open the order.\n2. Press Refund.\n  • card: 3 days\n  • gift card: at once\n\n"
        "Method | Days\nCard | 3\n\nNever promise a date.\n\nREFUND 42\n\nLine one\nline two.")


def test_a_loose_list_item_keeps_its_paragraphs_together():
    assert readable_text("- First step.\n\n  More about it.\n- Second step.\n\nDone.") == (
        "• First step.\n  More about it.\n• Second step.\n\nDone.")


def test_copy_targets_only_certified_answers(db, content):
    unanswered = ask_question(session=db, actor=content.agent, data=QuestionCreate(
        title="Refund in cash?", body="Can we refund in cash?", tags=["refunds"]))
    uncertified = ask_question(session=db, actor=content.agent, data=QuestionCreate(
        title="Refund by cheque?", body="Can we refund by cheque?", tags=["refunds"]))
    answer = answer_question(session=db, actor=content.author, question=uncertified, data=AnswerCreate(body="No."))
    accept_answer(session=db, actor=content.agent, answer=answer)
    draft = create_article(session=db, actor=content.author, data=ArticleCreate(
        title="Draft", body="Not yet.", tags=["refunds"]))
    db.commit()
    ids = [content.article.id, content.question.id, content.answer.id, unanswered.id, uncertified.id, answer.id,
           draft.id]
    assert copy_targets(session=db, entry_ids=ids) == {
        content.article.id: content.article.id,
        content.question.id: content.answer.id,  # a question copies its accepted, certified answer
        content.answer.id: content.answer.id,
    }
    assert copy_targets(session=db, entry_ids=[]) == {}


def test_copied_answer_is_the_certified_revision(db, content):
    entry, revision = copied_answer(session=db, actor=content.colleague, entry_id=content.question.id)
    assert entry.id == content.answer.id and revision.id == content.answer.certified_revision_id
    entry, revision = copied_answer(session=db, actor=content.colleague, entry_id=content.article.id)
    assert revision.id == content.article.certified_revision_id and "Refund the **full amount**" in revision.body


def test_nothing_to_copy_without_a_certified_answer(db, content):
    draft = create_article(session=db, actor=content.author, data=ArticleCreate(
        title="Draft", body="Not yet.", tags=["refunds"]))
    unanswered = ask_question(session=db, actor=content.agent, data=QuestionCreate(
        title="Refund in cash?", body="Can we refund in cash?", tags=["refunds"]))
    archive(session=db, actor=content.expert, entry=content.article, comment="Replaced by the new policy.")
    db.commit()
    with pytest.raises(NotFound):  # an agent may not even know the draft exists
        copied_answer(session=db, actor=content.agent, entry_id=draft.id)
    with pytest.raises(NotFound, match="no certified answer"):  # its author sees it, but it is not certified
        copied_answer(session=db, actor=content.author, entry_id=draft.id)
    with pytest.raises(NotFound, match="no certified answer"):
        copied_answer(session=db, actor=content.agent, entry_id=unanswered.id)
    reload(db, content.article)
    with pytest.raises(NotFound):  # archived: taken away from agents
        copied_answer(session=db, actor=content.agent, entry_id=content.article.id)


def test_readable_text_of_too_much_markup_is_the_text_as_typed_in_bounded_time():
    from kb.markdown import MAX_MARKUP
    from tests.helpers import cpu_budget

    text = "- [ ] step  \n" * (MAX_MARKUP // 3)
    with cpu_budget(1.0, "copy of too much markup"):
        copied = readable_text(text)
    assert copied.splitlines()[:2] == ["- [ ] step", "- [ ] step"]


CUSTOMER_PART = """Internal: check the order in the back office first.

## What to tell the customer:

We refund the **full amount** within 30 days.

### If they paid by card

The money is back on the card within 5 days.

## Notes for agents

Never promise a date.
"""


def test_the_part_for_the_customer_is_what_is_copied():
    assert customer_heading(CUSTOMER_PART) == "What to tell the customer:"
    # The section up to the next heading of its level (its sub-headings included), without notes.
    assert customer_text(CUSTOMER_PART) == (
        "We refund the full amount within 30 days.\n\nIf they paid by card\n\n"
        "The money is back on the card within 5 days.")
    at_the_end = "Check the order.\n\n# For the customer\n\nYes, we refund it."
    assert customer_text(at_the_end) == "Yes, we refund it."


def test_without_a_part_for_the_customer_the_whole_text_is_copied():
    for text in ("Refund within 30 days.", "# Refunds\n\nRefund within 30 days.",
                 "## What to tell the customer\n\n## Notes\n\nSomething.",  # an empty section
                 "Tell the customer what to tell the customer."):  # words in a paragraph, not a heading
        assert customer_text(text) == readable_text(text)
    assert customer_heading("# Refunds\n\nRefund within 30 days.") is None
