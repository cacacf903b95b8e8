"""The forum's notifications: the asker hears of answers and of acceptance, the answerer of
acceptance; nobody hears of their own doing; email follows each person's preference."""

from __future__ import annotations

import pytest

from kb.content import forum
from kb.content.schemas import AnswerCreate
from tests.expertise.people_world import person, reactions, thread
from tests.helpers import rows
from workflow import inbox, mailer
from tests.workflow.test_mailer import mail_settings, sink, smtp
from workflow.models import Notification, NotificationMode

pytestmark = pytest.mark.usefixtures("reactions")
assert reactions  # the fixture, used through pytestmark
assert smtp and sink and mail_settings  # the mail tests' fixtures, used by the email test

FORUM_KINDS = {"question_answered", "answer_accepted", "question_accepted"}


def notices(db, user) -> list[tuple[str, str]]:
    return [(n.kind, n.message) for n in sorted(rows(db, Notification, user_id=user.id), key=lambda n: n.id)
            if n.kind in FORUM_KINDS]


def test_the_asker_hears_of_each_answer(db):
    asker, answerer = person(db, "agent", name="Alex"), person(db, "author", name="Avery")
    question, (answer,) = thread(db, asker, answerer)
    assert notices(db, asker) == [("question_answered", "Avery answered your question “Refund after ten days?”.")]
    note = [n for n in rows(db, Notification, user_id=asker.id) if n.kind == "question_answered"][0]
    assert note.link == f"/questions/{question.id}#answer-{answer.id}" and note.entry_id == question.id
    assert notices(db, answerer) == []


def test_answering_your_own_question_tells_nobody(db):
    asker = person(db, "author")
    thread(db, asker, asker)
    assert notices(db, asker) == []


def test_acceptance_tells_the_answerer_and_not_the_asker_who_accepted(db):
    asker, answerer = person(db, "agent", name="Alex"), person(db, "author", name="Avery")
    _, (answer,) = thread(db, asker, answerer)
    forum.accept_answer(session=db, actor=asker, answer=answer)
    assert notices(db, answerer) == [("answer_accepted", "Alex accepted your answer to “Refund after ten days?”.")]
    assert [k for k, _ in notices(db, asker)] == ["question_answered"]
    forum.accept_answer(session=db, actor=asker, answer=answer)  # again: nothing new
    assert len(notices(db, answerer)) == 1


def test_an_expert_accepting_tells_both_asker_and_answerer(db):
    asker, answerer, expert = person(db, "agent", name="Alex"), person(db, "author", name="Avery"), person(
        db, "expert", name="Erin")
    _, (answer,) = thread(db, asker, answerer)
    forum.accept_answer(session=db, actor=expert, answer=answer)
    assert notices(db, answerer) == [("answer_accepted", "Erin accepted your answer to “Refund after ten days?”.")]
    assert notices(db, asker)[-1] == (
        "question_accepted", "Erin accepted an answer by Avery to your question “Refund after ten days?”.")
    assert notices(db, expert) == []


def test_an_expert_accepting_their_own_answer_tells_only_the_asker(db):
    asker, expert = person(db, "agent", name="Alex"), person(db, "expert", name="Erin")
    _, (answer,) = thread(db, asker, expert)
    forum.accept_answer(session=db, actor=expert, answer=answer)
    assert notices(db, expert) == []
    assert [k for k, _ in notices(db, asker)] == ["question_answered", "question_accepted"]


def test_inactive_askers_are_not_told(db):
    asker, answerer = person(db, "agent"), person(db, "author")
    asker.is_active = False
    db.add(asker)
    db.flush()
    question, _ = thread(db, asker, answerer)
    forum.answer_question(session=db, actor=answerer, question=question, data=AnswerCreate(body="More."))
    assert notices(db, asker) == []


def test_the_email_follows_each_persons_preference(db, mail_settings, sink):
    messages, _ = sink
    asker, quiet, answerer = person(db, "agent"), person(db, "agent"), person(db, "author", name="Avery")
    inbox.set_preference(session=db, actor=quiet, mode=NotificationMode.off)
    thread(db, asker, answerer)
    thread(db, quiet, answerer)
    assert notices(db, quiet)  # in the inbox either way
    mailer.deliver_pending(session=db, settings=mail_settings)
    assert [m["To"].addresses[0].addr_spec for m in messages] == [asker.email]
    assert "Avery answered your question" in messages[0].get_body().get_content()
