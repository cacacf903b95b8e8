"""Links to set a password through the pages and the API: forgot password (which never says whether
an address has an account), the page behind a link, the administrator's buttons, invitations."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from kb.accounts import password_links as links
from kb.accounts.models import PasswordLink, User
from kb.clock import travel, utcnow
from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET, csrf_from, form_post, login, rows
from tests.mail_sink import LINK_RE, MailSink, link_in
from workflow.account_mail import wait_until_sent

NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def sink():
    with MailSink() as s:
        yield s


@pytest.fixture
def settings(tmp_path, sink):
    """Email set up (a local SMTP server), links pointing at the test client's host."""
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, smtp_url=sink.url, base_url="http://testserver")


@pytest.fixture
def no_mail_client(engine, db, tmp_path):
    from web.app import create_app

    settings = Settings(env="development", data_dir=tmp_path / "data2", secret_key=TEST_SECRET, periodic_seconds=0,
                        semantic=False, base_url="http://testserver")
    with TestClient(create_app(settings=settings, engine=engine), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_client(client, make_user):
    admin = make_user("admin", name="Root Admin")
    login(client, admin.email)
    client.admin = admin
    return client


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _forgot(client, email):
    return form_post(client, "/password/forgot", {"email": email}, page="/password/forgot")


def _set(client, link_path, password=NEW_PASSWORD, again=None):
    page = client.get(link_path)
    token = link_path.split("token=", 1)[1]
    return client.post("/password/set", data={"token": token, "password": password,
                                              "password_again": password if again is None else again,
                                              "csrf_token": csrf_from(page.text)}, follow_redirects=False)


# --- forgot password ------------------------------------------------------------------------------


def test_the_sign_in_page_leads_to_forgot_password(client):
    page = client.get("/login")
    assert 'href="/password/forgot"' in page.text and "Forgot your password?" in page.text
    assert client.get("/password/forgot").status_code == 200


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(client, make_user, sink):
    user = make_user("agent", email="known@example.com")
    known = _forgot(client, "known@example.com")
    unknown = _forgot(client, "unknown@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@example.com", "X") == unknown.text.replace("unknown@example.com", "X")
    assert "a link to set a new password is on its way" in known.text
    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == user.email


def test_the_whole_reset_by_email(client, make_user, sink, db):
    user = make_user("agent")
    _forgot(client, user.email)
    link = _path(link_in(sink.wait_for(1)[0]))
    page = client.get(link)
    assert page.status_code == 200 and user.email in page.text
    assert page.headers["cache-control"] == "no-store"

    mismatch = _set(client, link, again="something-else-entirely")
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    short = _set(client, link, password="short")
    assert short.status_code == 422 and "at least 8 characters" in short.text

    done = _set(client, link)
    assert done.status_code == 303 and done.headers["location"].startswith("/login?done=password")
    signin = client.get(done.headers["location"])
    assert "Your password is set" in signin.text and user.email in signin.text
    assert login(client, user.email, PASSWORD).status_code == 401
    assert login(client, user.email, NEW_PASSWORD).status_code == 303


def test_forgot_password_is_rate_limited_per_network_address(client, make_user):
    for i in range(links.REQUESTS_PER_ADDRESS):
        assert _forgot(client, f"person{i}@example.com").status_code == 200
    refused = _forgot(client, "one-more@example.com")
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert int(refused.headers["retry-after"]) > 0


def test_forgot_password_needs_the_csrf_token(client, make_user, sink):
    user = make_user("agent")
    client.get("/password/forgot")
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 403
    wait_until_sent()
    assert sink.messages == []


def test_without_email_the_forgot_page_says_to_ask_an_administrator(no_mail_client, make_user):
    user = make_user("agent")
    assert "ask an administrator" in no_mail_client.get("/password/forgot").text.lower()
    assert 'action="/password/forgot"' not in no_mail_client.get("/password/forgot").text
    answer = form_post(no_mail_client, "/password/forgot", {"email": user.email}, page="/login")
    assert answer.status_code == 200 and "ask an administrator" in answer.text.lower()


# --- links that no longer work --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token=", "?token=kbp_unknown", "?token=" + "x" * 3000, "?token=%00"])
def test_an_unknown_link_gets_a_clear_page(client, query):
    response = client.get("/password/set" + query)
    assert response.status_code == 410
    assert "This link has expired or was already used; ask for a new one" in response.text
    assert 'href="/password/forgot"' in response.text


def test_a_used_or_expired_link_gets_a_clear_page(client, make_user, sink):
    user = make_user("agent")
    _forgot(client, user.email)
    link = _path(link_in(sink.wait_for(1)[0]))
    with travel(utcnow() + timedelta(hours=25)):
        expired = client.get(link)
    assert expired.status_code == 410 and "expired or was already used" in expired.text
    assert _set(client, link).status_code == 303
    used = client.get(link)
    assert used.status_code == 410 and "expired or was already used" in used.text
    again = client.post("/password/set", data={"token": link.split("token=")[1], "password": "x" * 12,
                                               "password_again": "x" * 12, "csrf_token": csrf_from(client.get("/login").text)})
    assert again.status_code == 410 and "ask for a new one" in again.text


# --- the administrator's buttons ------------------------------------------------------------------


def test_admin_sends_a_reset_link_from_the_user_page(admin_client, make_user, sink, db):
    user = make_user("agent", name="Anna Agent")
    page = admin_client.get(f"/admin/users/{user.id}")
    assert "Send password reset link" in page.text and "Send invitation" not in page.text
    response = form_post(admin_client, f"/admin/users/{user.id}/password-link", {"purpose": "reset"},
                         page=f"/admin/users/{user.id}")
    assert response.status_code == 303
    assert "A link to set a new password is on its way" in admin_client.get(response.headers["location"]).text
    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == user.email and "new password" in mail["Subject"]


def test_admin_buttons_need_the_csrf_token_and_an_administrator(client, admin_client, make_user, sink, app):
    user = make_user("agent")
    assert admin_client.post(f"/admin/users/{user.id}/password-link", data={"purpose": "reset"}).status_code == 403
    with TestClient(app, base_url="http://testserver") as other:
        author = make_user("author")
        login(other, author.email)
        refused = form_post(other, f"/admin/users/{user.id}/password-link", {"purpose": "reset"}, page="/")
        assert refused.status_code == 403
    wait_until_sent()
    assert sink.messages == []


def test_adding_a_user_without_a_password_invites_them(admin_client, client, sink, db):
    response = form_post(admin_client, "/admin/users", {"email": "nora@example.com", "display_name": "Nora New",
                                                        "roles": ["author"], "password": ""}, page="/admin/users")
    assert response.status_code == 303
    listing = admin_client.get(response.headers["location"])
    assert "invitation to choose a password is on its way" in listing.text
    assert "invited (no password yet)" in listing.text
    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "nora@example.com" and "invited" in mail["Subject"]
    (nora,) = rows(db, User, email="nora@example.com")
    assert nora.password_hash is None
    page = admin_client.get(f"/admin/users/{nora.id}")
    assert "Send invitation" in page.text and "has not chosen a password yet" in page.text


def test_a_deactivated_user_gets_no_button(admin_client, make_user, db):
    user = make_user("agent")
    form_post(admin_client, f"/admin/users/{user.id}", {"display_name": user.display_name, "roles": "agent"},
              page=f"/admin/users/{user.id}")
    page = admin_client.get(f"/admin/users/{user.id}")
    assert "Activate it to send a link" in page.text and "Send password reset link" not in page.text
    refused = form_post(admin_client, f"/admin/users/{user.id}/password-link", {"purpose": "reset"},
                        page=f"/admin/users/{user.id}")
    assert refused.status_code == 409 and "deactivated" in refused.text


def test_without_email_the_administrator_gets_the_link_to_pass_on(no_mail_client, make_user, db):
    admin = make_user("admin")
    user = make_user("agent")
    login(no_mail_client, admin.email)
    response = form_post(no_mail_client, f"/admin/users/{user.id}/password-link", {"purpose": "reset"},
                         page=f"/admin/users/{user.id}")
    assert response.status_code == 200 and "give" in response.text and "this link yourself" in response.text
    link = LINK_RE.search(response.text).group(0)
    assert no_mail_client.get(_path(link)).status_code == 200
    created = form_post(no_mail_client, "/admin/users", {"email": "x@example.com", "display_name": "X",
                                                         "roles": ["agent"]}, page="/admin/users")
    assert created.status_code == 200 and LINK_RE.search(created.text)
    assert len(rows(db, PasswordLink)) == 2


# --- the API ----------------------------------------------------------------------------------------


def test_api_sends_a_link(client, make_user, bearer, sink):
    admin = make_user("admin")
    user = make_user("agent")
    response = client.post(f"/api/v1/users/{user.id}/password-link", headers=bearer(admin))
    assert response.status_code == 201
    body = response.json()
    assert body["purpose"] == "reset" and body["emailed"] is True and body["url"] is None
    sink.wait_for(1)
    invite = client.post(f"/api/v1/users/{user.id}/password-link", json={"purpose": "invite"}, headers=bearer(admin))
    assert invite.status_code == 201 and invite.json()["purpose"] == "invite"
    assert client.post(f"/api/v1/users/{user.id}/password-link", headers=bearer(user)).status_code == 403
    assert client.post("/api/v1/users/999999/password-link", headers=bearer(admin)).status_code == 404


def test_api_created_user_without_password_is_invited(client, make_user, bearer, sink):
    admin = make_user("admin")
    response = client.post("/api/v1/users", json={"email": "api@example.com", "display_name": "Api",
                                                  "roles": ["agent"]}, headers=bearer(admin))
    assert response.status_code == 201
    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "api@example.com"


def test_api_without_email_returns_the_link(no_mail_client, make_user, bearer):
    admin = make_user("admin")
    user = make_user("agent")
    body = no_mail_client.post(f"/api/v1/users/{user.id}/password-link", headers=bearer(admin)).json()
    assert body["emailed"] is False and "/password/set?token=kbp_" in body["url"]
