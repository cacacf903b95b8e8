"""Forum posts happen once: one-time form tokens (kb.content.submissions), one article per answer,
and the answer's author keeps the credit and the rights on the article made from their answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kb.clock import utcnow
from kb.content import access, forum, submissions
from kb.content import service as content
from kb.content.models import Entry, FormSubmission, Revision
from kb.content.schemas import QuestionCreate, RevisionCreate
from kb.errors import Conflict
from tests.expertise.people_world import person, thread
from tests.helpers import rows


def _ask(db, user, title="Refund after ten days?"):
    return lambda: forum.ask_question(session=db, actor=user, data=QuestionCreate(title=title, body="Details."))


def test_a_token_creates_once_and_a_replay_returns_what_it_created(db):
    asker = person(db, "agent")
    first = submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=_ask(db, asker))
    again = submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=_ask(db, asker))
    assert not first.replayed and again.replayed and again.entry.id == first.entry.id
    assert len([e for e in rows(db, Entry) if e.kind == "question"]) == 1
    other = submissions.submit_once(session=db, actor=asker, token="t2", purpose="question", create=_ask(db, asker))
    assert not other.replayed and other.entry.id != first.entry.id


def test_without_a_token_every_post_creates(db):
    asker = person(db, "agent")
    for _ in range(2):
        submissions.submit_once(session=db, actor=asker, token=None, purpose="question", create=_ask(db, asker))
    assert len(rows(db, Entry)) == 2 and rows(db, FormSubmission) == []


def test_a_refused_post_leaves_the_token_usable(db):
    asker = person(db, "agent")

    def refused():
        raise Conflict("No.")

    with pytest.raises(Conflict), db.begin_nested():
        submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=refused)
    done = submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=_ask(db, asker))
    assert not done.replayed


def test_a_token_of_another_person_or_form_is_refused(db):
    asker, other = person(db, "agent"), person(db, "author")
    submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=_ask(db, asker))
    with pytest.raises(Conflict):
        submissions.submit_once(session=db, actor=other, token="t1", purpose="question", create=_ask(db, other))
    with pytest.raises(Conflict):
        submissions.submit_once(session=db, actor=asker, token="t1", purpose="article", create=_ask(db, asker))


def test_old_token_records_are_forgotten(db):
    asker = person(db, "agent")
    submissions.submit_once(session=db, actor=asker, token="t1", purpose="question", create=_ask(db, asker))
    assert submissions.forget_used_tokens(session=db, now=utcnow()) == 0
    assert submissions.forget_used_tokens(session=db, now=utcnow() + timedelta(days=9)) == 1


def test_an_answer_is_turned_into_an_article_once(db):
    asker, answerer, promoter = person(db, "agent"), person(db, "author"), person(db, "expert")
    _, (answer,) = thread(db, asker, answerer)
    article = forum.promote_answer(session=db, actor=promoter, answer=answer)
    with pytest.raises(Conflict) as refused:
        forum.promote_answer(session=db, actor=promoter, answer=answer)
    assert refused.value.details["article_id"] == article.id
    assert "already turned into an article" in refused.value.message
    assert forum.promotions_of(session=db, answer_ids=[answer.id]) == {answer.id: article}


def test_the_answers_author_is_the_author_and_the_promoter_a_co_author(db):
    asker, answerer, promoter, stranger = (person(db, "agent"), person(db, "author"), person(db, "expert"),
                                           person(db, "author"))
    _, (answer,) = thread(db, asker, answerer)
    article = forum.promote_answer(session=db, actor=promoter, answer=answer)
    first = db.get(Revision, article.latest_revision_id)
    assert (article.author_id, article.co_author_id, first.author_id) == (answerer.id, promoter.id, answerer.id)
    for user in (answerer, promoter):  # both see and edit the draft
        assert content.get_entry(session=db, actor=user, entry_id=article.id) == article
        assert access.can_edit(user, article)
        assert article in content.list_articles(session=db, actor=user, mine=True)
        assert content.latest_visible_revision(session=db, actor=user, entry=article).id == first.id
    assert not access.can_view_entry(stranger, article)
    assert article not in content.list_articles(session=db, actor=stranger)
    # The co-author edits; the answer's author sees the promoter's revision too.
    edited = content.save_revision(session=db, actor=promoter, entry=article, data=RevisionCreate(
        title=first.title, body=first.body + "\nMore.", tags=[], base_revision_id=first.id))
    assert content.latest_visible_revision(session=db, actor=answerer, entry=article).id == edited.id


def test_promoting_your_own_answer_has_no_co_author(db):
    asker, answerer = person(db, "agent"), person(db, "author")
    _, (answer,) = thread(db, asker, answerer)
    article = forum.promote_answer(session=db, actor=answerer, answer=answer)
    assert (article.author_id, article.co_author_id) == (answerer.id, None)


def test_forum_states_are_in_the_forums_words(db):
    asker, answerer = person(db, "agent"), person(db, "author")
    question, (answer,) = thread(db, asker, answerer)
    assert forum.forum_state(question, 0) == "open"
    assert forum.forum_state(question, 1) == "answered"
    forum.accept_answer(session=db, actor=asker, answer=answer)
    assert forum.forum_state(question, 1) == "accepted"
