"""People's profile pages: reputation, expertise with its evidence in words, certified work, recent
activity; endorsing colleagues and declaring one's own interests; drafts never leak."""

from __future__ import annotations

import re

import pytest

from expertise.models import Endorsement, TopicInterest
from kb.content import forum
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from tests.helpers import form_post, login, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM


def certify(db, revision_id, author, expert):
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=revision_id, action=action)


@pytest.fixture
def world(app, db, make_user):
    """Avery wrote a certified refunds article and an accepted answer; Erin (refunds expert) reviewed
    them and asked for changes to Avery's draft "Secret pricing plan"."""
    author = make_user("author", name="Avery Author")
    expert = make_user("expert", name="Erin Expert")
    agent = make_user("agent", name="Alex Agent")
    article = create_article(session=db, actor=author, data=ArticleCreate(
        title="Refund a cancelled order", body="Refund the full amount.", tags=["refunds"]))
    designate_expert(session=db, actor=SYSTEM, topic="refunds", user=expert)
    certify(db, article.latest_revision_id, author, expert)
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(
        title="Refund after ten days?", body="Cancelled after ten days.", tags=["refunds"]))
    answer = forum.answer_question(session=db, actor=author, question=question,
                                   data=AnswerCreate(body="Yes, as store credit."))
    forum.accept_answer(session=db, actor=agent, answer=answer)
    draft = create_article(session=db, actor=author, data=ArticleCreate(
        title="Secret pricing plan", body="Prices go up in May.", tags=["refunds"]))
    transition(session=db, actor=author, revision_id=draft.latest_revision_id, action=Action.submit)
    transition(session=db, actor=expert, revision_id=draft.latest_revision_id, action=Action.request_changes,
               comment="Add the new prices.")
    db.commit()
    return {"author": author, "expert": expert, "agent": agent, "article": article, "question": question,
            "answer": answer, "draft": draft}


def text_of(html: str) -> str:
    """The page's words without tags, spaces collapsed (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_profile_shows_reputation_expertise_certified_work_and_activity(client, world):
    login(client, world["agent"].email)
    page = client.get(f"/people/{world['author'].id}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Avery Author" in words and "author" in words
    assert re.search(r'id="reputation-total">40<', page.text)  # certified article 25 + accepted answer 15
    assert "refunds 40" in words  # both were about refunds
    assert re.search(r"refunds 15\.0 1 certified article \(10\.0\) ?, 1 accepted answer \(5\.0\)", words)
    assert f'href="/articles/{world["article"].id}">Refund a cancelled order</a>' in page.text
    assert "Answer accepted" in words and "Article certified" in words and "+25" in words
    assert "Secret pricing plan" not in page.text


def test_the_evidence_of_a_designated_expert_is_spelled_out(client, world):
    login(client, world["agent"].email)
    words = text_of(client.get(f"/people/{world['expert'].id}").text)
    assert "designated expert" in words and "2 reviews" in words
    assert re.search(r"Review done \(an article\)", words)  # the review of a draft the agent cannot see


def test_drafts_never_leak_but_their_author_sees_them(client, world):
    login(client, world["agent"].email)
    assert "Secret pricing plan" not in client.get(f"/people/{world['expert'].id}").text
    login(client, world["author"].email)
    mine = client.get(f"/people/{world['expert'].id}").text
    assert f'href="/articles/{world["draft"].id}">Secret pricing plan</a>' in mine


def test_people_me_redirects_to_your_own_page(client, world):
    login(client, world["agent"].email)
    response = client.get("/people/me", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/people/{world['agent'].id}"


def test_profiles_need_a_signed_in_user_and_an_existing_person(client, world):
    anonymous = client.get(f"/people/{world['author'].id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    login(client, world["agent"].email)
    missing = client.get("/people/999999")
    assert missing.status_code == 404 and "That user does not exist" in missing.text


def test_endorsing_a_colleague_and_withdrawing_it(client, db, world):
    author = world["author"]
    login(client, world["agent"].email)
    page = client.get(f"/people/{author.id}").text
    assert "Endorse for refunds" in page
    done = form_post(client, f"/people/{author.id}/endorsements", {"topic": "refunds"}, page=f"/people/{author.id}")
    assert done.status_code == 303 and done.headers["location"].startswith(f"/people/{author.id}?done=endorsed")
    again = form_post(client, f"/people/{author.id}/endorsements", {"topic": "Refunds"}, page=f"/people/{author.id}")
    assert again.status_code == 303
    assert [(e.endorser_id, e.user_id) for e in rows(db, Endorsement)] == [(world["agent"].id, author.id)]
    words = text_of(client.get(done.headers["location"]).text)
    assert "Your endorsement is saved." in words and "Alex Agent" in words
    assert "endorsed by 1 colleague (3.0)" in words and "Withdraw my endorsement for refunds" in words

    withdrawn = form_post(client, f"/people/{author.id}/endorsements/refunds/withdraw", page=f"/people/{author.id}")
    assert withdrawn.status_code == 303 and rows(db, Endorsement) == []
    assert "Endorse for refunds" in client.get(f"/people/{author.id}").text


def test_endorsing_a_new_topic_and_bad_endorsements_are_explained(client, db, world):
    expert = world["expert"]
    login(client, world["agent"].email)
    unknown = form_post(client, f"/people/{expert.id}/endorsements", {"topic": "astrology"}, page="/")
    assert unknown.status_code == 404 and "There is no topic called “astrology”" in unknown.text
    assert 'aria-invalid="true"' in unknown.text  # shown at the topic field
    login(client, expert.email)
    own = form_post(client, f"/people/{expert.id}/endorsements", {"topic": "refunds"}, page="/")
    assert own.status_code == 403 and "You cannot endorse yourself" in own.text
    assert rows(db, Endorsement) == []
    assert "Endorse " not in text_of(client.get(f"/people/{expert.id}").text)  # no endorse buttons on your own page


def test_declaring_and_removing_your_interests(client, db, world):
    agent = world["agent"]
    login(client, agent.email)
    own = client.get(f"/people/{agent.id}").text
    assert "Your interests" in own and "Add interest" in own
    added = form_post(client, "/people/me/interests", {"topic": "refunds"}, page="/")
    assert added.status_code == 303 and added.headers["location"].startswith(f"/people/{agent.id}?done=interest")
    assert [(i.user_id, i.tag_id is not None) for i in rows(db, TopicInterest)] == [(agent.id, True)]
    words = text_of(client.get(f"/people/{agent.id}").text)
    assert "Your interest is saved." not in words  # only on the redirect's page
    assert "declared interest (2.0)" in words
    bad = form_post(client, "/people/me/interests", {"topic": "astrology"}, page="/")
    assert bad.status_code == 404 and "There is no topic called “astrology”" in bad.text
    removed = form_post(client, "/people/me/interests/refunds/remove", page="/")
    assert removed.status_code == 303 and rows(db, TopicInterest) == []

    login(client, world["author"].email)
    theirs = client.get(f"/people/{agent.id}").text
    assert "Add interest" not in theirs and "Interests" in theirs


def test_author_names_link_to_their_profiles(client, world):
    login(client, world["agent"].email)
    article = client.get(f"/articles/{world['article'].id}").text
    assert f'href="/people/{world["author"].id}">Avery Author</a>' in article
    thread = client.get(f"/questions/{world['question'].id}").text
    assert f'href="/people/{world["author"].id}">Avery Author</a>' in thread
