"""Browser caches never mix up a page with its htmx fragment, and never keep a signed-in page.

Pages answer htmx (HX-Request) with a fragment at the same address as the whole page, so every
page response varies by that header; and after "Sign out" on a shared desk, Back must not show
the previous user's pages from the cache."""

from __future__ import annotations

import pytest

from tests.helpers import csrf_from, login


@pytest.fixture
def signed_in(client, make_user):
    assert login(client, make_user("agent").email).status_code == 303
    return client


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.headers.get("vary", "").split(",") if part.strip()}


def test_the_search_page_and_its_fragment_vary_by_hx_request(signed_in):
    page = signed_in.get("/search?q=refund")
    fragment = signed_in.get("/search?q=refund", headers={"HX-Request": "true"})
    assert "<html" in page.text and "<html" not in fragment.text
    for response in (page, fragment):
        assert "hx-request" in _vary(response)
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/search", "/articles", "/questions", "/profile", "/inbox",
                                  "/no/such/page"])
def test_pages_of_a_signed_in_user_are_not_stored(signed_in, path):
    response = signed_in.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store", path
    assert "hx-request" in _vary(response)


def test_pages_without_a_sign_in_are_revalidated_and_vary_too(client):
    response = client.get("/login")
    assert response.headers["cache-control"] == "no-cache"
    assert "hx-request" in _vary(response)


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/kb.css")
    assert "hx-request" not in _vary(response)
    assert response.headers.get("cache-control") != "no-store"


def test_back_after_sign_out_asks_the_server_again(signed_in):
    """What the browser test sees, in HTTP: the stored page was never kept, and asking again
    after signing out leads to the sign-in page."""
    assert signed_in.get("/profile").headers["cache-control"] == "no-store"
    page = signed_in.get("/profile")
    token = csrf_from(page.text)
    assert signed_in.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    again = signed_in.get("/profile", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
