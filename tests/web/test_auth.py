"""Signing in and out through the browser-facing pages."""

from kb.accounts.models import UserSession
from tests.helpers import rows, PASSWORD, csrf_from, form_post, login


def test_login_page_is_served(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="password"' in page.text


def test_pages_redirect_anonymous_users_to_login(client):
    response = client.get("/profile", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile"


def test_login_with_right_password_starts_a_session(client, make_user):
    user = make_user("agent")
    response = login(client, user.email.upper())  # emails are case-insensitive
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "kb_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert user.display_name in client.get("/").text


def test_wrong_password_shows_a_message_and_no_session(client, make_user):
    user = make_user()
    response = login(client, user.email, "wrong-password")
    assert response.status_code == 401
    assert "The email or password is not right." in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_from_before_login_is_not_valid_after_login(client, make_user, db):
    user = make_user()
    assert login(client, user.email).status_code == 303
    old_cookie = client.cookies.get("kb_session")
    assert login(client, user.email).status_code == 303  # signing in again issues a new session
    new_cookie = client.cookies.get("kb_session")
    assert new_cookie != old_cookie
    client.cookies.clear()
    client.cookies.set("kb_session", old_cookie)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert len(rows(db, UserSession)) == 1


def test_logout_ends_the_session_on_the_server(client, make_user, db):
    user = make_user()
    login(client, user.email)
    cookie = client.cookies.get("kb_session")
    response = form_post(client, "/logout")
    assert response.status_code == 303
    assert len(rows(db, UserSession)) == 0
    client.cookies.clear()
    client.cookies.set("kb_session", cookie)  # replaying the old cookie does not help
    assert client.get("/", follow_redirects=False).status_code == 303


def test_tampered_session_cookie_is_ignored(client, make_user):
    user = make_user()
    login(client, user.email)
    tampered = client.cookies.get("kb_session")[:-2] + "xx"
    client.cookies.clear()
    client.cookies.set("kb_session", tampered)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_ten_wrong_passwords_in_a_row_are_throttled(client, make_user):
    user = make_user()
    statuses = [login(client, user.email, "nope-nope-nope").status_code for _ in range(10)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 5
    locked = login(client, user.email, PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.text
    assert locked.headers["retry-after"] == "900"


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(client, make_user, db):
    admin = make_user("admin")
    login(client, admin.email)
    before = client.get("/admin/users").text.count("<tr>")
    response = client.post(
        "/admin/users",
        data={"email": "new@example.com", "display_name": "New", "roles": "agent", "password": PASSWORD},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 403
    assert "did not come from kb" in response.text
    assert client.get("/admin/users").text.count("<tr>") == before


def test_csrf_token_from_another_session_is_refused(client, app, make_user):
    from fastapi.testclient import TestClient

    admin = make_user("admin")
    with TestClient(app) as other:
        foreign_token = csrf_from(other.get("/login").text)
    login(client, admin.email)
    response = client.post("/admin/users", data={"email": "x@example.com", "csrf_token": foreign_token})
    assert response.status_code == 403


def test_login_form_needs_csrf_too(client, make_user):
    user = make_user()
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403


def test_next_parameter_only_redirects_within_kb(client, make_user):
    user = make_user()
    page = client.get("/login?next=//evil.example.com/")
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "next": "//evil.example.com/", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"
