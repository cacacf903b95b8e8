"""Single sign-on in a real Chromium against a real OpenID Connect provider (oidc-provider-mock, in a
thread): "Sign in with …" on kb's login page, the provider's own page asks who signs in, and the person
comes back to kb signed in with the role their groups map to. An administrator's change of that role
then survives the next sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET
from tests.oidc_provider import oidc_provider  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path, oidc_provider):  # noqa: F811
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, **oidc_provider.settings())


@pytest.fixture
def kb_url(live_server, settings):
    # The redirect URI registered at the provider is <KB_BASE_URL>/auth/oidc/callback.
    settings.base_url = live_server
    return live_server


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def sso_sign_in(page, kb_url, sub, *, next_path=""):
    # The provider's page takes its stylesheet from a CDN; the test machine is offline.
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    page.goto(f"{kb_url}/login{next_path}")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Test SSO").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.fill("input[name=sub]", sub)
    with page.expect_navigation(url=re.compile(re.escape(kb_url))):
        page.get_by_role("button", name="Authorize").click()


def test_sign_in_through_the_provider_with_roles_from_groups_and_an_admin_override(
        page, kb_url, oidc_provider, make_user, login_as):  # noqa: F811
    admin = make_user("admin", name="Root Admin")
    oidc_provider.set_person("ext-ivy", email="ivy@example.com", name="Ivy Expert", groups=["kb-experts"])

    sso_sign_in(page, kb_url, "ext-ivy", next_path="?next=/review")
    assert _path(page.url) == "/review"
    expect(page.locator(".topbar .user-name")).to_have_text("Ivy Expert")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.goto(f"{kb_url}/knowledge-health").status == 200  # an expert's page
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    # An administrator makes Ivy an agent only.
    login_as(page, kb_url, admin.email, PASSWORD)
    page.goto(f"{kb_url}/admin/users")
    with page.expect_navigation():
        page.get_by_role("row", name=re.compile("Ivy Expert")).get_by_role("link", name="Edit").click()
    expect(page.locator("#sso")).to_contain_text("Roles follow the groups at the identity provider")
    expect(page.locator("#sso")).to_contain_text("ivy@example.com")
    page.get_by_label("expert").uncheck()
    page.get_by_label("agent").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    expect(page.locator(".roles-override")).to_contain_text("Roles set by an administrator on")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    # Ivy signs in again: the groups still say expert, the administrator's choice stays.
    sso_sign_in(page, kb_url, "ext-ivy")
    assert _path(page.url) == "/"
    expect(page.locator(".topbar .user-name")).to_have_text("Ivy Expert")
    assert page.goto(f"{kb_url}/knowledge-health").status == 403


def test_a_person_who_denies_at_the_provider_is_told_so(page, kb_url):
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.fulfill(status=200, content_type="text/css", body=""))
    page.goto(f"{kb_url}/login")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Test SSO").click()
    with page.expect_navigation(url=re.compile(re.escape(kb_url))):
        page.get_by_role("button", name="Deny").click()
    expect(page.locator(".error-page")).to_contain_text("You did not allow kb to sign you in")
