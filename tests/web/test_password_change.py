"""Changing a password ends every other way in: other browser sessions and API tokens."""

from fastapi.testclient import TestClient

from kb.accounts import service as accounts
from kb.accounts.models import ApiToken, UserSession
from tests.helpers import PASSWORD, form_post, login, rows

NEW_PASSWORD = "a-brand-new-passphrase"


def test_changing_the_password_signs_out_other_sessions_and_revokes_tokens(app, client, db, make_user, bearer):
    user = make_user("author")
    headers = bearer(user)
    assert client.get("/api/v1/search?q=x", headers=headers).status_code == 200
    other = TestClient(app)  # another browser, e.g. a stolen session
    assert login(other, user.email).status_code == 303
    assert login(client, user.email).status_code == 303
    before_cookie = client.cookies.get("kb_session")

    response = form_post(client, "/profile/password",
                         {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, page="/profile")
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.status_code == 200  # this browser stays signed in, with a new session
    assert "signed out everywhere else" in page.text and "API token" in page.text
    assert client.cookies.get("kb_session") != before_cookie

    assert other.get("/profile", follow_redirects=False).status_code == 303  # the other browser is out
    assert client.get("/api/v1/search?q=x", headers=headers).status_code == 401  # the token is revoked
    assert len(rows(db, UserSession, user_id=user.id)) == 1
    assert all(t.revoked_at is not None for t in rows(db, ApiToken, user_id=user.id))
    stale = TestClient(app)
    stale.cookies.set("kb_session", before_cookie)  # the old cookie of this browser is dead too
    assert stale.get("/profile", follow_redirects=False).status_code == 303
    assert login(TestClient(app), user.email, NEW_PASSWORD).status_code == 303


def test_an_administrator_resetting_a_password_ends_that_users_sessions_and_tokens(app, db, make_user, bearer):
    admin, user = make_user("admin"), make_user("agent")
    headers = bearer(user)
    browser = TestClient(app)
    login(browser, user.email)
    ended = accounts.set_password(session=db, actor=admin, user=user, password=NEW_PASSWORD)
    db.commit()
    assert ended.sessions == 1 and ended.tokens == 1
    assert browser.get("/profile", follow_redirects=False).status_code == 303
    assert browser.get("/api/v1/search?q=x", headers=headers).status_code == 401
