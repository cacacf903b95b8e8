"""Admins manage search synonyms on /admin/synonyms; the search page uses them at once."""

import html
import re

import pytest

from search.factory import backend_for, reset_backends
from search.models import SearchSynonym
from tests.helpers import form_post, login, rows
from tests.search.test_contract import doc

PAGE = "/admin/synonyms"


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture
def admin(client, make_user):
    user = make_user("admin")
    login(client, user.email)
    return user


def test_admin_adds_changes_and_deletes_a_rule(client, db, admin):
    page = client.get(PAGE)
    assert page.status_code == 200 and "No rules yet." in page.text
    added = form_post(client, PAGE, {"phrase": "Money back", "alternatives": "refund, reimbursement"}, page=PAGE)
    assert added.status_code == 303
    listed = client.get(added.headers["location"]).text
    assert "Saved “money back”. Searches use it within 5 seconds." in text_of(listed)
    [rule] = rows(db, SearchSynonym)
    assert (rule.phrase, rule.alternatives, rule.updated_by) == ("money back", ["refund", "reimbursement"], admin.id)
    assert '<span class="tag">reimbursement</span>' in listed
    changed = form_post(client, PAGE, {"phrase": "money back", "alternatives": "refund"}, page=PAGE)
    assert changed.status_code == 303
    [rule] = rows(db, SearchSynonym)
    assert rule.alternatives == ["refund"]
    deleted = form_post(client, f"{PAGE}/{rule.id}/delete", page=PAGE)
    assert deleted.status_code == 303 and rows(db, SearchSynonym) == []
    assert "Deleted “money back”." in text_of(client.get(deleted.headers["location"]).text)


@pytest.mark.parametrize(
    ("phrase", "alternatives", "message"),
    [
        ("", "refund", "Enter a word or phrase."),
        ("when will my money come back", "refund", "has 6 words: a word or phrase has 1 to 4 words."),
        ("money back", "", "Give at least one alternative"),
        ("money back", "refund, Refund", "“refund” is listed twice"),
        ("the", "refund", "only common words that search ignores"),
    ],
)
def test_bad_rules_are_explained_in_the_form(client, db, admin, phrase, alternatives, message):
    response = form_post(client, PAGE, {"phrase": phrase, "alternatives": alternatives}, page=PAGE)
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert 'aria-invalid="true"' in response.text
    assert f'value="{html.escape(alternatives)}"' in response.text  # what was typed stays in the form
    assert rows(db, SearchSynonym) == []


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_only_admins_see_and_change_synonyms(client, db, make_user, role):
    user = make_user(role)
    login(client, user.email)
    assert client.get(PAGE).status_code == 403
    response = form_post(client, PAGE, {"phrase": "money back", "alternatives": "refund"})
    assert response.status_code == 403
    assert rows(db, SearchSynonym) == []
    assert f'href="{PAGE}"' not in client.get("/").text


def test_the_admin_menu_links_admins_to_the_page(client, admin):
    assert 'href="/admin"' in client.get("/").text
    assert f'href="{PAGE}"' in client.get("/admin").text


def test_a_form_without_its_csrf_token_is_refused(client, db, admin):
    response = client.post(PAGE, data={"phrase": "money back", "alternatives": "refund"}, follow_redirects=False)
    assert response.status_code == 403
    assert rows(db, SearchSynonym) == []


def test_deleting_a_rule_that_is_gone_says_so(client, admin):
    response = form_post(client, f"{PAGE}/4242/delete", page=PAGE)
    assert response.status_code == 404 and "no synonym rule" in response.text


def test_the_search_page_uses_a_new_rule_right_away(client, make_user, app, admin):
    reset_backends()
    try:
        backend_for(app.state.settings).index([doc(1, "Refund an order", "Issue the refund from the billing page.")])
        assert "Refund an order" not in client.get("/search?q=reimbursement").text
        form_post(client, PAGE, {"phrase": "reimbursement", "alternatives": "refund"}, page=PAGE)
        page = client.get("/search?q=reimbursement").text
        assert "Refund an order" in text_of(page) and "<mark>Refund</mark>" in page
    finally:
        reset_backends()
