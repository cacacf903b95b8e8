"""Single sign-on through a real OpenID Connect provider (oidc-provider-mock in a thread): kb's pages
send the person there and take them back signed in, with roles from their groups."""

from __future__ import annotations

import logging
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import ExternalIdentity, Role, User
from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET, form_post, login, rows
from tests.oidc_provider import CLIENT_SECRET, oidc_provider, path_of  # noqa: F401 - the fixture
from web.csrf import expected_token
from web.routes import sso as sso_routes
from workflow.models import WorkflowEvent


@pytest.fixture
def settings(tmp_path, oidc_provider):  # noqa: F811
    return Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, base_url="http://kb.example.com", **oidc_provider.settings())


def start(client, next_path="/"):
    response = client.get("/auth/oidc/login", params={"next": next_path}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def sign_in(client, provider, sub, next_path="/"):
    """Click "Sign in with …", answer the provider's page as ``sub``, follow it back to kb."""
    back = provider.answer(start(client, next_path), sub)
    assert back.startswith("http://kb.example.com/auth/oidc/callback?"), back
    return client.get(path_of(back), follow_redirects=False)


def user_by_email(db, email):
    db.commit()  # a new snapshot: the app committed in its own transaction
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).one()


def test_the_login_page_offers_single_sign_on_beside_the_password(client):
    page = client.get("/login?next=/search")
    assert "Sign in with Test SSO" in page.text
    assert 'href="/auth/oidc/login?next=/search"' in page.text
    assert 'name="password"' in page.text
    assert CLIENT_SECRET not in page.text


def test_a_first_sign_in_creates_the_user_with_the_roles_of_their_groups(client, db, oidc_provider):
    oidc_provider.set_person("ext-ana", email="Ana@Example.com", name="Ana Lima", groups=["kb-experts", "staff"])
    # The authorization request carries state, nonce and a PKCE challenge (Authlib).
    query = parse_qs(urlsplit(start(client)).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["redirect_uri"] == ["http://kb.example.com/auth/oidc/callback"]

    response = sign_in(client, oidc_provider, "ext-ana", next_path="/review")
    assert response.status_code == 303 and response.headers["location"] == "/review"
    assert client.get("/profile").status_code == 200
    assert "Ana Lima" in client.get("/profile").text

    ana = user_by_email(db, "ana@example.com")
    assert ana.roles == {Role.expert} and ana.password_hash is None
    (identity,) = rows(db, ExternalIdentity, user_id=ana.id)
    assert identity.issuer == oidc_provider.url and identity.subject == "ext-ana"
    actions = [e.action for e in rows(db, WorkflowEvent, target="ana@example.com")]
    assert actions == ["user.create", "user.sso_sign_in"]


def test_an_existing_account_is_found_by_email_and_later_by_subject(client, db, oidc_provider, make_user):
    bo = make_user("author", email="bo@example.com", name="Bo")
    oidc_provider.set_person("ext-bo", email="BO@example.com", groups=["kb-authors"])
    assert sign_in(client, oidc_provider, "ext-bo").status_code == 303
    assert [i.subject for i in rows(db, ExternalIdentity, user_id=bo.id)] == ["ext-bo"]
    assert user_by_email(db, "bo@example.com").password_hash is not None  # the password stays

    # Bo's email changes at the provider: the same account, with the new email.
    client.cookies.clear()
    oidc_provider.set_person("ext-bo", email="bo.new@example.com", groups=["kb-authors"])
    assert sign_in(client, oidc_provider, "ext-bo").status_code == 303
    assert user_by_email(db, "bo.new@example.com").id == bo.id
    assert len(rows(db, User)) == 1


def test_roles_follow_the_groups_until_an_administrator_sets_them(client, db, oidc_provider, make_user):
    make_user("admin", email="root@example.com")
    oidc_provider.set_person("ext-cy", email="cy@example.com", groups=["kb-authors"])
    sign_in(client, oidc_provider, "ext-cy")
    assert user_by_email(db, "cy@example.com").roles == {Role.author}

    client.cookies.clear()
    oidc_provider.set_person("ext-cy", email="cy@example.com", groups=["kb-experts", "kb-authors"])
    sign_in(client, oidc_provider, "ext-cy")
    cy = user_by_email(db, "cy@example.com")
    assert cy.roles == {Role.author, Role.expert}
    changes = [e.comment for e in rows(db, WorkflowEvent, action="user.roles")]
    assert changes == ["Roles: author → author, expert, from the groups at the identity provider."]

    # An administrator makes Cy an agent only: the groups no longer decide.
    accounts.set_roles(session=db, actor=SYSTEM, user=cy, roles=[Role.agent])
    db.commit()
    client.cookies.clear()
    sign_in(client, oidc_provider, "ext-cy")
    cy = user_by_email(db, "cy@example.com")
    assert cy.roles == {Role.agent} and cy.roles_set_by_admin_at is not None

    # Undone from the administrator's page: the next sign-in takes the groups again.
    client.cookies.clear()
    assert login(client, "root@example.com").status_code == 303
    page = client.get(f"/admin/users/{cy.id}")
    assert "Roles set by an administrator on" in page.text and oidc_provider.url in page.text
    response = form_post(client, f"/admin/users/{cy.id}/roles-from-provider", page=f"/admin/users/{cy.id}")
    assert response.status_code == 303
    client.cookies.clear()
    sign_in(client, oidc_provider, "ext-cy")
    assert user_by_email(db, "cy@example.com").roles == {Role.author, Role.expert}


def test_the_last_administrator_keeps_the_role_whatever_the_groups_say(client, db, oidc_provider, make_user):
    make_user("admin", email="solo@example.com")
    oidc_provider.set_person("ext-solo", email="solo@example.com", groups=[])
    sign_in(client, oidc_provider, "ext-solo")
    assert user_by_email(db, "solo@example.com").roles == {Role.admin, Role.agent}


def test_an_unverified_email_is_refused_and_nothing_is_created(client, db, oidc_provider):
    oidc_provider.set_person("ext-dee", email="dee@example.com", verified=False, groups=["kb-admins"])
    response = sign_in(client, oidc_provider, "ext-dee")
    assert response.status_code == 403
    assert "did not confirm your email address" in response.text
    assert rows(db, User) == [] and rows(db, ExternalIdentity) == []
    assert client.get("/profile", follow_redirects=False).status_code == 303  # not signed in


def test_a_deactivated_user_is_refused(client, db, oidc_provider, make_user):
    eve = make_user("agent", email="eve@example.com")
    accounts.deactivate_user(session=db, actor=SYSTEM, user=eve)
    db.commit()
    oidc_provider.set_person("ext-eve", email="eve@example.com")
    response = sign_in(client, oidc_provider, "ext-eve")
    assert response.status_code == 403 and "deactivated" in response.text
    assert rows(db, ExternalIdentity) == []


def test_denying_at_the_provider_says_so(client, oidc_provider):
    back = oidc_provider.answer(start(client), None)
    assert "error=access_denied" in back
    response = client.get(path_of(back))
    assert response.status_code == 403
    assert "You did not allow kb to sign you in" in response.text


def test_a_callback_from_another_browser_or_a_forged_state_is_refused(client, app, oidc_provider):
    from fastapi.testclient import TestClient

    oidc_provider.set_person("ext-fay", email="fay@example.com")
    back = path_of(oidc_provider.answer(start(client), "ext-fay"))
    with TestClient(app, base_url="http://testserver") as other:  # no state cookie
        response = other.get(back)
        assert response.status_code == 400 and "started in another browser" in response.text
    forged = back.replace("state=", "state=x")
    assert client.get(forged).status_code == 400
    assert client.get("/profile", follow_redirects=False).status_code == 303
    # The real answer in the browser that asked works, once.
    assert client.get(back, follow_redirects=False).status_code == 303
    client.cookies.delete("kb_session")
    replay = client.get(back, follow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text


def test_an_unreachable_provider_is_a_sentence_not_a_crash(tmp_path, app, client, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    from web import oidc

    app.state.oidc = oidc.client_for(Settings(
        data_dir=tmp_path / "d2", oidc_discovery_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
        oidc_client_id="kb", oidc_client_secret="very-secret-value"))
    with caplog.at_level(logging.DEBUG):
        response = client.get("/auth/oidc/login", follow_redirects=False)
    assert response.status_code == 502
    assert sso_routes.UNREACHABLE in response.text
    assert "very-secret-value" not in caplog.text


def test_without_single_sign_on_its_addresses_say_it_is_not_set_up(tmp_path, engine, db):
    from fastapi.testclient import TestClient

    from web.app import create_app

    plain = create_app(settings=Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET,
                                         periodic_seconds=0, semantic=False), engine=engine)
    with TestClient(plain, base_url="http://testserver") as c:
        assert "Sign in with" not in c.get("/login").text
        for path in ("/auth/oidc/login", "/auth/oidc/callback?code=x&state=y"):
            response = c.get(path)
            assert response.status_code == 404 and "Single sign-on is not set up" in response.text


@pytest.fixture
def sso_only(settings):
    settings.password_login = False
    return settings


def test_with_passwords_off_only_single_sign_on_is_offered(sso_only, client, make_user, oidc_provider):
    make_user("agent", email="gil@example.com")
    page = client.get("/login")
    assert "Sign in with Test SSO" in page.text and 'name="password"' not in page.text
    token = expected_token(TEST_SECRET, client.cookies["kb_csrf"], "")  # the page has no form to take it from
    refused = client.post("/login", data={"email": "gil@example.com", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 403 and "Signing in with a password is turned off" in refused.text
    assert client.get("/password/forgot").status_code == 403
    oidc_provider.set_person("ext-gil", email="gil@example.com")
    assert sign_in(client, oidc_provider, "ext-gil").status_code == 303


def test_the_secret_stays_out_of_the_settings_repr(settings):
    assert CLIENT_SECRET not in repr(settings) and CLIENT_SECRET not in str(settings.model_dump())
