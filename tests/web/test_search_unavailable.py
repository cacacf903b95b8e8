"""A search backend that does not answer is one domain error (SearchUnavailable), mapped in
web.errors: the API answers 503 with a sentence, the pages still show themselves and say search
is unavailable (the search page: it is catching up). Tests with a real Meilisearch being killed:
tests/search/test_meili_outage.py."""

from __future__ import annotations

import logging
from contextlib import nullcontext

import pytest

from kb.errors import SearchUnavailable
from search import querylog
from search.querylog_writer import QueryLogWriter
from search import service as search_service
from search.models import SearchLog
from tests.helpers import login, rows

DOWN = "Search is unavailable right now; try again shortly."


class DownBackend:
    """Every call fails the way a stopped server does."""

    name = "down"

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("connection refused")
        return fail


@pytest.fixture
def search_down(monkeypatch):
    for module in ("web.api.search", "web.routes.search", "web.api.experts", "web.routes.experts"):
        monkeypatch.setattr(f"{module}.backend_for", lambda settings: DownBackend())


def test_the_api_answers_503_with_a_sentence(client, make_user, bearer, search_down, caplog):
    headers = bearer(make_user("agent"))
    with caplog.at_level(logging.WARNING, logger="kb.search"):
        for path in ("/api/v1/search?q=refund", "/api/v1/experts?q=refund"):
            response = client.get(path, headers=headers)
            assert response.status_code == 503, path
            assert response.json() == {"detail": DOWN}
    assert "connection refused" in caplog.text  # logged for the operator, not shown


def test_the_search_page_says_search_is_catching_up(client, db, make_user, search_down):
    agent = make_user("agent")
    login(client, agent.email)
    for headers in ({}, {"hx-request": "true"}):  # the whole page, and the results htmx swaps in
        page = client.get("/search", params={"q": "refund", "tag": "billing"}, headers=headers)
        assert page.status_code == 200
        assert "Search is unavailable right now; it is catching up" in page.text
        assert ('id="search-results"' in page.text) == (not headers)
    assert rows(db, SearchLog) == []  # no results, nothing to log


def test_the_experts_page_says_experts_cannot_be_matched(client, make_user, search_down):
    login(client, make_user("agent").email)
    page = client.get("/experts", params={"q": "refund"})
    assert page.status_code == 200
    assert "Search is unavailable right now, so experts cannot be matched to a subject" in page.text
    assert 'value="refund"' in page.text  # the form keeps the question
    empty = client.get("/experts", params={"q": "  "})  # the directory needs no search
    assert empty.status_code == 200 and "Search is unavailable" not in empty.text


def test_a_query_the_finder_refuses_is_explained_not_blamed_on_search(client, make_user, search_down):
    login(client, make_user("agent").email)
    page = client.get("/experts", params={"q": "who knows about?"})
    assert page.status_code == 422 and "Say what the expert should know about" in page.text


def test_search_and_log_never_fails_the_search_for_the_log(db, make_user, monkeypatch):
    agent = make_user("agent")

    class Found:
        name = "found"

        def search(self, query):
            return search_service.SearchResults(total=0, hits=[], facets={})

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    def broken_log(*args, **kwargs):
        raise RuntimeError("the log table is locked")

    monkeypatch.setattr(querylog, "log_search", broken_log)
    query_log = QueryLogWriter(lambda: nullcontext(db), batch_seconds=0)
    searched = search_service.search_and_log(session=db, backend=Found(), actor=agent, query_log=query_log,
                                             text="refund")
    assert searched.results.total == 0  # the searcher gets the results; the log keeps the search for later
    with pytest.raises(SearchUnavailable, match=DOWN):
        search_service.search_and_log(session=db, backend=DownBackend(), actor=agent, query_log=query_log,
                                      text="refund")
