"""Promoting a forum answer writes a credit line in Markdown: names and titles in it stay text."""

from __future__ import annotations

import re

from kb.content.forum import answer_question, ask_question, promote_answer
from kb.content.models import Revision
from kb.content.schemas import AnswerCreate, QuestionCreate
from kb.markdown import plain_text, render

HOSTILE_NAME = "[Eve](https://evil.example/) ![p](https://evil.example/p.png) *bold* &#x5B;x"
HOSTILE_TITLE = "Refunds](https://evil.example/) [click `here` & \\ _now_"


def test_the_credit_links_only_to_the_thread_and_shows_name_and_title_as_typed(db, make_user):
    asker, answerer = make_user("agent"), make_user("author", name=HOSTILE_NAME)
    question = ask_question(session=db, actor=asker, data=QuestionCreate(title=HOSTILE_TITLE, body="Details?"))
    answer = answer_question(session=db, actor=answerer, question=question, data=AnswerCreate(body="Yes."))
    article = promote_answer(session=db, actor=answerer, answer=answer)
    body = db.get(Revision, article.latest_revision_id).body

    html = render(body)
    assert re.findall(r'(?:href|src)="([^"]*)"', html) == [f"/questions/{question.id}#answer-{answer.id}"]
    assert "<img" not in html
    text = plain_text(body)
    assert f"Based on the answer by {HOSTILE_NAME} to the forum question {HOSTILE_TITLE}." in text.replace("\n", " ")
