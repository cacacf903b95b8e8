"""Accounts in a real Chromium: each demo persona signs in and out, admins manage users, tokens.

Runs on every ``engine`` backend (SQLite, and PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kb.accounts.models import User
from kb.demo_accounts_and_content import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo_accounts
from tests.helpers import rows

pytestmark = pytest.mark.browser

NAMES = {email: name for email, name, _ in DEMO_ACCOUNTS}


@pytest.fixture
def demo_accounts(db):
    load_demo_accounts(session=db)
    db.commit()
    return NAMES


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.mark.parametrize("email", [email for email, _, _ in DEMO_ACCOUNTS])
def test_persona_signs_in_sees_its_navigation_and_signs_out(page, live_server, login_as, demo_accounts, email):
    login_as(page, live_server, email, DEMO_PASSWORD)
    assert _path(page.url) == "/"

    nav = page.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Home", exact=True)).to_have_attribute("aria-current", "page")
    admin_link = nav.get_by_role("link", name="Admin", exact=True)
    if email == "admin@example.com":
        expect(admin_link).to_be_visible()
        admin_link.click()
        expect(page).to_have_url(f"{live_server}/admin")
        page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users", exact=True).click()
        expect(page).to_have_url(f"{live_server}/admin/users")
        expect(page.locator("h1")).to_have_text("Users")
        expect(nav.get_by_role("link", name="Admin", exact=True)).to_have_attribute("aria-current", "page")
    else:
        expect(admin_link).to_have_count(0)
        # The page itself is refused too, not just hidden from the menu.
        response = page.goto(f"{live_server}/admin/users")
        assert response is not None and response.status == 403
    expect(page.locator(".topbar .user-name")).to_have_text(demo_accounts[email])

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert _path(page.url) == "/login"
    expect(page.locator("#email")).to_be_visible()
    expect(page.locator("nav.mainnav")).to_have_count(0)

    page.goto(f"{live_server}/")
    assert _path(page.url).startswith("/login")


def test_wrong_password_is_explained_in_the_form(page, live_server, login_as, demo_accounts):
    login_as(page, live_server, "author@example.com", "not-the-password")
    form_errors = page.locator(".login-box .form-errors")
    expect(form_errors).to_contain_text("The email or password is not right.")
    expect(page.locator("#email")).to_have_value("author@example.com")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("nav.mainnav")).to_have_count(0)
    page.goto(f"{live_server}/")
    assert _path(page.url).startswith("/login")


def test_admin_creates_a_user_then_a_bad_submission_is_explained(page, live_server, login_as, demo_accounts, db):
    login_as(page, live_server, "admin@example.com", DEMO_PASSWORD)
    page.goto(f"{live_server}/admin/users")
    form = page.locator("form[action='/admin/users']")

    form.locator("#email").fill("new.person@example.com")
    form.locator("#display_name").fill("New Person")
    form.get_by_label("author", exact=True).check()
    form.get_by_label("expert", exact=True).check()
    form.locator("#password").fill("a-good-initial-password")
    with page.expect_navigation():
        form.get_by_role("button", name="Add user").click()

    expect(page.locator(".flash.flash-success")).to_have_text("Created new.person@example.com.")
    row = page.locator("table.list tbody tr", has_text="new.person@example.com")
    expect(row).to_contain_text("New Person")
    for role in ("agent", "author", "expert"):  # "agent" is ticked by default
        expect(row.locator(".badge-role", has_text=role)).to_have_count(1)
    expect(row.locator(".badge-role", has_text="admin")).to_have_count(0)
    user = rows(db, User, email="new.person@example.com")[0]
    assert {r.value for r in user.roles} == {"agent", "author", "expert"}

    form.locator("#email").fill("not-an-email")
    form.locator("#display_name").fill("Typed Name")
    with page.expect_navigation():
        form.get_by_role("button", name="Add user").click()

    expect(form.locator(".field-error")).to_contain_text("Enter a valid email address")
    expect(page.locator(".form-errors")).to_contain_text("Enter a valid email address")
    expect(form.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#email")).to_have_value("not-an-email")
    expect(form.locator("#display_name")).to_have_value("Typed Name")
    expect(page.locator(".flash")).to_have_count(0)
    assert rows(db, User, display_name="Typed Name") == []


def test_api_token_is_shown_once_works_and_stops_working_when_revoked(page, live_server, login_as, demo_accounts):
    login_as(page, live_server, "author@example.com", DEMO_PASSWORD)
    page.goto(f"{live_server}/profile")
    page.fill("#token-name", "Helpdesk integration")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()

    once = page.locator(".token-once")
    expect(once).to_be_visible()
    token = page.locator("#new-token").inner_text().strip()
    assert len(token) >= 20
    token_row = page.locator("table.list tbody tr", has_text="Helpdesk integration")
    expect(token_row).to_have_count(1)

    api = f"{live_server}/api/v1/me"
    bearer = {"Authorization": f"Bearer {token}"}
    me = page.request.get(api, headers=bearer)
    assert me.status == 200, me.text()
    assert me.json()["email"] == "author@example.com"

    page.goto(f"{live_server}/profile")
    expect(page.locator(".token-once")).to_have_count(0)  # never shown again
    expect(page.get_by_text(token)).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        token_row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash.flash-success")).to_have_text("The token was revoked.")
    expect(token_row).to_contain_text("revoked")

    assert page.request.get(api, headers=bearer).status == 401


def test_dismissing_the_revoke_confirmation_keeps_the_token(page, live_server, login_as, demo_accounts):
    login_as(page, live_server, "agent@example.com", DEMO_PASSWORD)
    page.goto(f"{live_server}/profile")
    page.fill("#token-name", "Chat bot")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()

    messages = []

    def dismiss(dialog):
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("table.list tbody tr", has_text="Chat bot").get_by_role("button", name="Revoke").click()
    assert messages and "Chat bot" in messages[0]
    expect(page.locator(".token-once")).to_be_visible()  # still on the same page: nothing was sent
    response = page.request.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
