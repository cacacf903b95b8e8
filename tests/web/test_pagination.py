"""Page links of long lists: a window around the current page with the first and the last."""

from __future__ import annotations

import re

import pytest

from search.factory import backend_for, reset_backends
from tests.helpers import login
from tests.search.test_contract import doc
from web.pagination import page_numbers


@pytest.mark.parametrize(("page", "pages", "last_served", "expected"), [
    (1, 1, None, []),
    (1, 3, None, [1, 2, 3]),
    (1, 2000, None, [1, 2, 3, None, 2000]),
    (250, 2000, 500, [1, None, 248, 249, 250, 251, 252, None, 500]),
    (500, 2000, 500, [1, None, 498, 499, 500]),
    (4, 9, None, [1, 2, 3, 4, 5, 6, None, 9]),  # a gap of one page shows that page, not "…"
    (900, 20, None, [1, None, 18, 19, 20]),  # past the end: the window of the last page
])
def test_page_numbers_are_a_window_with_the_first_and_the_last(page, pages, last_served, expected):
    assert page_numbers(page, pages, last_served=last_served) == expected


def test_a_search_with_hundreds_of_pages_links_a_few_of_them(client, make_user, app):
    """A search that matches most of the knowledge base shows a handful of page links, none past
    the last page the search page serves; each link opens that page."""
    reset_backends()
    backend = backend_for(app.state.settings)
    backend.index([doc(10_000 + n, f"Refund case {n}", "How to refund an order.") for n in range(261)])
    try:
        login(client, make_user("agent").email)
        page = client.get("/search?q=refund&page=7")
        assert page.status_code == 200
        pager = re.search(r'<nav class="pager".*?</nav>', page.text).group()
        numbers = re.findall(r'>(\d+|…)</', pager)
        assert numbers == ["1", "…", "5", "6", "7", "8", "9", "…", "14"]
        assert 'aria-current="page">7<' in pager
        last = re.search(r'href="([^"]*page=14)"', pager).group(1).replace("&amp;", "&")
        assert client.get(last).status_code == 200
    finally:
        reset_backends()
