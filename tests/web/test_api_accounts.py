"""The JSON API for accounts and tokens, with bearer authentication."""

import pytest

from tests.helpers import rows, PASSWORD, form_post, login


def test_api_needs_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_api_with_token(client, make_user, bearer):
    user = make_user("author")
    response = client.get("/api/v1/me", headers=bearer(user))
    assert response.status_code == 200
    assert response.json()["email"] == user.email
    assert response.json()["roles"] == ["author"]


def test_session_cookie_does_not_authenticate_the_api(client, make_user):
    user = make_user()
    login(client, user.email)
    assert client.get("/api/v1/me").status_code == 401


def test_revoked_token_gets_401(client, make_user, bearer):
    user = make_user()
    headers = bearer(user)
    token_id = client.get("/api/v1/tokens", headers=headers).json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_deactivated_users_token_gets_401(client, make_user, bearer):
    admin, user = make_user("admin"), make_user("agent")
    headers = bearer(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=bearer(admin))
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_non_admins_get_403_on_admin_api(client, make_user, bearer, role):
    headers = bearer(make_user(role))
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    body = {"email": "x@example.com", "display_name": "X", "roles": ["admin"], "password": PASSWORD}
    assert client.post("/api/v1/users", json=body, headers=headers).status_code == 403
    assert client.patch("/api/v1/users/1", json={"roles": ["admin"]}, headers=headers).status_code == 403


def test_admin_creates_users_over_the_api(client, make_user, bearer):
    headers = bearer(make_user("admin"))
    body = {"email": "Helper@Example.com", "display_name": "Helper", "roles": ["expert", "agent"], "password": PASSWORD}
    response = client.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["email"] == "helper@example.com"
    assert response.json()["roles"] == ["agent", "expert"]
    again = client.post("/api/v1/users", json={**body, "email": "HELPER@example.com"}, headers=headers)
    assert again.status_code == 409
    assert again.json() == {"detail": "A user with the email helper@example.com already exists.", "field": "email"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "nope"}, "email", "Enter a valid email address"),
        ({"display_name": ""}, "display_name", "Enter a name."),
        ({"roles": ["boss"]}, "roles", "Unknown value 'boss'"),
        ({"roles": []}, "roles", "at least one role"),
    ],
)
def test_bad_input_over_the_api_is_a_clear_422(client, make_user, bearer, body, field, message):
    headers = bearer(make_user("admin"))
    full = {"email": "ok@example.com", "display_name": "Ok", "roles": ["agent"], "password": PASSWORD, **body}
    response = client.post("/api/v1/users", json=full, headers=headers)
    assert response.status_code == 422
    assert message in response.json()["errors"][field]


def test_tokens_are_created_once_and_stored_hashed(client, make_user, db):
    from kb.accounts.models import ApiToken

    user = make_user()
    login(client, user.email)
    page = form_post(client, "/profile/tokens", {"name": "Helpdesk"}, page="/profile")
    assert page.status_code == 200
    assert "It will not be shown again" in page.text
    import re

    raw = re.search(r'<code id="new-token">([^<]+)</code>', page.text).group(1)
    stored = rows(db, ApiToken)[0]
    assert stored.token_hash != raw and raw not in stored.token_hash
    assert raw not in client.get("/profile").text  # never shown again
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    revoke = form_post(client, f"/profile/tokens/{stored.id}/revoke", page="/profile")
    assert revoke.status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_cannot_revoke_someone_elses_token(client, make_user, bearer):
    owner, other = make_user(), make_user()
    owner_headers = bearer(owner)
    token_id = client.get("/api/v1/tokens", headers=owner_headers).json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(other)).status_code == 404
    assert client.get("/api/v1/me", headers=owner_headers).status_code == 200


def test_token_last_use_is_recorded_by_reads_and_writes(client, make_user, bearer):
    user = make_user("author")
    headers = bearer(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    first = client.get("/api/v1/tokens", headers=headers).json()[0]["last_used_at"]
    assert first is not None
    created = client.post("/api/v1/articles", json={"title": "Token use", "body": "Text.", "tags": []}, headers=headers)
    assert created.status_code == 201
