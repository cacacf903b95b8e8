"""Invitations and forgotten passwords in a real Chromium: an administrator adds a user without a
password, the invitation email arrives (a local SMTP server), its link sets the password, and the
new user signs in; the same link then says it was already used. "Forgot your password?" does the same
for an existing account."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET
from tests.mail_sink import MailSink, link_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "nora-chose-this-one"


@pytest.fixture
def sink():
    with MailSink() as s:
        yield s


@pytest.fixture
def settings(tmp_path, sink):
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, smtp_url=sink.url, base_url="http://kb.example.com")


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_an_invited_user_sets_a_password_and_signs_in(page, live_server, login_as, make_user, sink):
    admin = make_user("admin", name="Root Admin")
    login_as(page, live_server, admin.email, PASSWORD)
    page.goto(f"{live_server}/admin/users")
    page.fill("#email", "nora@example.com")
    page.fill("#display_name", "Nora New")
    page.get_by_label("author").check()
    # The password stays empty: the label says what happens then.
    expect(page.get_by_text("leave it empty to email an invitation")).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash-success")).to_contain_text("invitation to choose a password is on its way")
    expect(page.get_by_role("row", name=re.compile("Nora New"))).to_contain_text("invited (no password yet)")

    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "nora@example.com"
    link = _path(link_in(mail))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live_server}{link}")
    expect(page.locator("h1")).to_have_text("Welcome to kb, Nora New")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD + "x")
    with page.expect_navigation():
        page.get_by_role("button", name="Set my password").click()
    expect(page.locator(".field-error")).to_have_text("The two passwords are not the same. Type the same password twice.")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Set my password").click()

    assert _path(page.url).startswith("/login")
    expect(page.locator(".flash-success")).to_have_text("Your password is set. Sign in with it.")
    expect(page.locator("#email")).to_have_value("nora@example.com")
    page.fill("#password", NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert _path(page.url) == "/"
    expect(page.locator(".topbar .user-name")).to_have_text("Nora New")

    response = page.goto(f"{live_server}{link}")
    assert response is not None and response.status == 410
    expect(page.get_by_text("This link has expired or was already used; ask for a new one.")).to_be_visible()
    expect(page.get_by_role("link", name="Ask for a new link")).to_have_attribute("href", "/password/forgot")


def test_forgot_password_from_the_sign_in_page(page, live_server, make_user, sink):
    user = make_user("agent", name="Anna Agent")
    page.goto(f"{live_server}/login")
    with page.expect_navigation():
        page.get_by_role("link", name="Forgot your password?").click()
    page.fill("#email", user.email)
    with page.expect_navigation():
        page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to set a new password is on its way")

    (mail,) = sink.wait_for(1)
    page.goto(f"{live_server}{_path(link_in(mail))}")
    expect(page.locator("h1")).to_have_text("Set a new password")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Set the new password").click()
    page.fill("#password", NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".topbar .user-name")).to_have_text("Anna Agent")
