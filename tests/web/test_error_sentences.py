"""Errors a person reads are sentences about what they did, not the validator's wording: an
address with a word where an id belongs is "not found", a bad query parameter says what to change
(HTML pages and the API JSON alike)."""

from __future__ import annotations

import html
import re

import pytest

from tests.helpers import login

DEVELOPER_SPEAK = re.compile(r"Input should|valid integer|less than or equal|greater than or equal|"
                             r"String should|unable to parse|Field required", re.I)


@pytest.fixture
def signed_in(client, make_user):
    assert login(client, make_user("author", "expert").email).status_code == 303
    return client


def _text(response) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("path", ["/articles/abc", "/questions/abc", "/entries/abc", "/entries/1.5/history",
                                  "/revisions/abc", "/entries/abc/edit"])
def test_a_word_where_an_id_belongs_is_not_found(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 404, path
    assert "There is nothing at this address" in _text(response)
    assert not DEVELOPER_SPEAK.search(_text(response))
    assert "<header" in response.text  # the site's error page, with its navigation


@pytest.mark.parametrize("path", ["/api/v1/entries/abc", "/api/v1/revisions/abc/diff?against=1",
                                  "/api/v1/entries/1e3/revisions"])
def test_the_api_answers_a_word_in_an_id_with_404_too(client, make_user, bearer, path):
    response = client.get(path, headers=bearer(make_user("agent")))
    assert response.status_code == 404
    assert response.json() == {"detail": "There is nothing at this address. Check the link, or start again "
                                         "from the home page."}


def test_a_page_number_past_the_last_says_what_to_do(signed_in):
    response = signed_in.get("/search?q=refund&page=501")
    assert response.status_code == 422
    text = _text(response)
    assert "Pages go up to 500. To reach what lies further down, narrow the search" in text
    assert not DEVELOPER_SPEAK.search(text)
    for query, sentence in (("page=abc", "The page number must be a whole number, like 2."),
                            ("page=0", "Pages are numbered from 1."),
                            ("q=" + "x" * 501, "The search text is too long: at most 500 characters."),
                            ("kind=recipe", "Kind cannot be 'recipe': choose 'article', 'question' or 'answer'."),
                            ("drafts=maybe", "Drafts must be yes or no (true or false).")):
        response = signed_in.get(f"/search?{query}")
        assert response.status_code == 422, query
        assert sentence in _text(response), (query, _text(response)[-2000:])
        assert not DEVELOPER_SPEAK.search(_text(response)), query


def test_the_api_says_it_in_sentences_per_field(client, make_user, bearer):
    headers = bearer(make_user("agent"))
    response = client.get("/api/v1/search?q=refund&limit=1000&offset=-1", headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == {"limit": "The number of results can be at most 100.",
                              "offset": "The number of results to skip must be at least 0."}
    assert not DEVELOPER_SPEAK.search(body["detail"])
    # An id out of range is still a 422 that names it, in words.
    huge = client.get("/api/v1/entries/99999999999", headers=headers)
    assert huge.status_code == 422 and not DEVELOPER_SPEAK.search(huge.json()["detail"])
