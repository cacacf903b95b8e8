"""Content for the ratings tests: a certified article and a forum thread with a certified, accepted
answer, written and certified through the real services."""

from __future__ import annotations

from dataclasses import dataclass

from kb.accounts.models import User
from kb.content.forum import accept_answer, answer_question, ask_question
from kb.content.models import Entry
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

ARTICLE_BODY = """Refund the **full amount** when the order was cancelled within *30 days*.

1. Open the order in the [back office](https://backoffice.example.com/orders).
2. Press `Refund`.

- Card payments: 3 to 5 working days.
- Gift cards: at once.
"""
ANSWER_BODY = "Yes. Refund it as **store credit** first.\n\nThen tell the customer it takes a day."


@dataclass
class RatedContent:
    author: User
    expert: User
    agent: User
    colleague: User  # another agent
    article: Entry
    question: Entry
    answer: Entry


def certify(session, revision_id: int, author: User, expert: User) -> None:
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=session, actor=who, revision_id=revision_id, action=action)


def reload(session, entry: Entry) -> Entry:
    """The entry as the database has it now (services change entries with UPDATE statements)."""
    session.expire_all()
    return session.get(Entry, entry.id)


def rated_content(db, make_user) -> RatedContent:
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    agent = make_user("agent", name="Alex Agent")
    colleague = make_user("agent", name="Casey Colleague")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund a cancelled order", body=ARTICLE_BODY, tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)  # topics are tags in use
    certify(db, article.latest_revision_id, author, expert)
    question = ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Refund after ten days?", body="The customer cancelled after ten days.", tags=["refunds"]))
    answer = answer_question(session=db, actor=author, question=question, data=AnswerCreate(body=ANSWER_BODY))
    certify(db, answer.latest_revision_id, author, expert)
    accept_answer(session=db, actor=agent, answer=answer)
    db.commit()
    return RatedContent(author=author, expert=expert, agent=agent, colleague=colleague,
                        article=reload(db, article), question=reload(db, question), answer=reload(db, answer))
