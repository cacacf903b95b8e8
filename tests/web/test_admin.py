"""Administration of users through the pages."""

import re

import pytest

from kb.accounts.models import User
from tests.helpers import rows, PASSWORD, form_post, login


@pytest.fixture
def admin_client(client, make_user):
    admin = make_user("admin", name="Root Admin")
    login(client, admin.email)
    client.admin = admin
    return client


def _create(client, **fields):
    data = {"email": "new.person@example.com", "display_name": "New Person", "roles": ["agent"], "password": PASSWORD}
    data.update(fields)
    return form_post(client, "/admin/users", data, page="/admin/users")


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_non_admins_get_403_on_admin_pages(client, make_user, role):
    user = make_user(role)
    login(client, user.email)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin").status_code == 403
    target = make_user()
    assert client.get(f"/admin/users/{target.id}").status_code == 403
    assert form_post(client, "/admin/users", {"email": "x@example.com", "display_name": "X", "roles": "admin"}).status_code == 403
    assert form_post(client, f"/admin/users/{target.id}", {"display_name": "Hacked", "roles": "admin"}).status_code == 403


def test_admin_creates_a_user_who_can_sign_in(admin_client, client, db):
    response = _create(admin_client, roles=["author", "expert"])
    assert response.status_code == 303
    assert "new.person@example.com" in admin_client.get(response.headers["location"]).text
    user = rows(db, User, email="new.person@example.com")[0]
    assert {r.value for r in user.roles} == {"author", "expert"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"display_name": "   "}, "Enter a name."),
        ({"roles": ["wizard"]}, "Unknown value &#39;wizard&#39;"),
        ({"roles": []}, "Give the user at least one role."),
        ({"password": "short"}, "at least 8 characters"),
    ],
)
def test_bad_input_is_explained_on_the_page(admin_client, db, fields, message):
    response = _create(admin_client, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert 'class="form-errors"' in response.text
    assert len(rows(db, User)) == 1  # only the admin


def test_duplicate_email_is_refused_case_insensitively(admin_client, db):
    assert _create(admin_client).status_code == 303
    response = _create(admin_client, email="New.Person@Example.COM")
    assert response.status_code == 409
    assert "already exists" in response.text
    assert len(rows(db, User)) == 2


def test_admin_sets_roles_and_deactivates(admin_client, make_user, db, app):
    from fastapi.testclient import TestClient

    target = make_user("agent")
    with TestClient(app) as target_browser:
        login(target_browser, target.email)
        assert target_browser.get("/", follow_redirects=False).status_code == 200
        response = form_post(
            admin_client, f"/admin/users/{target.id}", {"display_name": "Renamed", "roles": ["author"]}, page="/admin/users"
        )
        assert response.status_code == 303
        db.expire_all()
        user = db.get(User, target.id)
        assert user.display_name == "Renamed" and not user.is_active
        assert {r.value for r in user.roles} == {"author"}
        # The deactivated user's open session stops working at once.
        assert target_browser.get("/", follow_redirects=False).status_code == 303
        assert login(target_browser, target.email).status_code == 401


def test_admin_cannot_lock_themselves_out(admin_client, db):
    admin = admin_client.admin
    response = form_post(
        admin_client, f"/admin/users/{admin.id}", {"display_name": "Root", "roles": ["agent"], "is_active": "true"},
        page="/admin/users",
    )
    assert response.status_code == 409
    assert "cannot remove your own administrator role" in response.text
    db.expire_all()
    assert db.get(User, admin.id).is_admin


def test_the_admin_menu_leads_to_every_administration_page(admin_client):
    html = admin_client.get("/admin").text
    for path in ("/admin/users", "/admin/topics", "/admin/routing", "/admin/synonyms", "/admin/webhooks",
                 "/admin/audit"):
        assert f'href="{path}"' in html
        page = admin_client.get(path)
        assert page.status_code == 200 and 'aria-label="Administration"' in page.text, path
    assert 'aria-label="Administration"' not in admin_client.get("/search").text  # only on admin pages


def test_the_admin_index_lists_the_administration_sections_not_the_main_menu(admin_client):
    """The layout's own menu once leaked into the page: /admin showed cards for Home, Search, Forum..."""
    html = admin_client.get("/admin").text
    index = html[html.index('<ul class="admin-index">'):]
    index = index[:index.index("</ul>")]
    cards = re.findall(r'<h2><a href="([^"]+)">([^<]+)</a></h2>', index)
    assert [path for path, _ in cards] == ["/admin/users", "/admin/groups", "/admin/topics", "/admin/routing",
                                           "/admin/synonyms", "/admin/webhooks", "/admin/audit", "/knowledge-health"]
    assert "Audit trail" in dict(cards).values()
    for main_menu_only in ('"/"', '"/search"', '"/questions"', '"/articles/new"', '"/admin"'):
        assert f"<h2><a href={main_menu_only}>" not in index
    # Every card says what the section is for.
    assert index.count('<p class="muted"></p>') == 0


def test_the_menu_button_is_in_the_header_for_signed_in_people(admin_client):
    html = admin_client.get("/").text
    assert 'class="nav-toggle" aria-expanded="false" aria-controls="site-nav" hidden' in html
    assert 'id="site-nav"' in html
