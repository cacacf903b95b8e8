"""A tag only a draft carries is as private as the draft (issue 12, defect 16): tag suggestions,
the forum's topic list and profiles name it only to those who may open a revision carrying it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from expertise import people
from kb.content import service as content
from kb.content.schemas import ArticleCreate
from kb.errors import NotFound
from tests.helpers import form_post, login

SECRET_TAG = "zanzibar-quokka"


@pytest.fixture
def draft_tag(db, make_user):
    owner = make_user("author", name="Avery Owner")
    content.create_article(session=db, actor=owner, data=ArticleCreate(
        title="Next year's pricing", body="Not for agents yet.", tags=[SECRET_TAG, "billing"]))
    people.declare_interest(session=db, actor=owner, topic=SECRET_TAG)
    db.commit()
    return owner


def as_user(app, user) -> TestClient:
    client = TestClient(app)
    login(client, user.email)
    return client


@pytest.mark.parametrize("roles", [("agent",), ("author",), ("expert",)])
def test_draft_tags_are_not_suggested_listed_or_shown_on_profiles(app, make_user, draft_tag, roles):
    """Regression: /tags/suggest, /questions and /people/{id} listed every tag in the database."""
    with as_user(app, make_user(*roles)) as client:
        assert SECRET_TAG not in client.get("/tags/suggest?tags=zanz").text
        assert SECRET_TAG not in client.get("/questions").text
        profile = client.get(f"/people/{draft_tag.id}")
        assert profile.status_code == 200 and SECRET_TAG not in profile.text
        # Naming it is no oracle either: it is "no such topic", like a tag that does not exist.
        refused = form_post(client, "/people/me/interests", {"topic": SECRET_TAG}, page="/people/me")
        assert refused.status_code == 404 and SECRET_TAG not in refused.text.replace(f"“{SECRET_TAG}”", "")


def test_the_drafts_author_and_admins_still_see_its_tags(app, make_user, draft_tag):
    for user in (draft_tag, make_user("admin")):
        with as_user(app, user) as client:
            assert f'value="{SECRET_TAG}"' in client.get("/tags/suggest?tags=zanz").text
            assert SECRET_TAG in client.get(f"/people/{draft_tag.id}").text


def test_topic_named_for_a_viewer_refuses_a_draft_only_tag(db, make_user, draft_tag):
    with pytest.raises(NotFound):
        content.topic_named(session=db, name=SECRET_TAG, actor=make_user("agent"))
    assert content.topic_named(session=db, name=SECRET_TAG, actor=draft_tag).name == SECRET_TAG
    assert content.topic_named(session=db, name=SECRET_TAG).name == SECRET_TAG  # administration: every tag
