"""The inbox page, the unread count in the top bar, and the email preference form."""

from __future__ import annotations

import re

import pytest

from tests.helpers import csrf_from, form_post, login
from workflow import inbox
from workflow.models import Notification, NotificationMode
from workflow.notify import notify

COUNT_RE = re.compile(r'<a class="inbox" href="/inbox"[^>]*>Inbox(?: <span class="count">(\d+))?')


def unread_in_nav(html: str) -> int:
    match = COUNT_RE.search(html)
    assert match, "the top bar has no inbox link"
    return int(match.group(1) or 0)


@pytest.fixture
def alice(client, make_user):
    user = make_user("author", name="Alice Author")
    login(client, user.email)
    return user


def _notify(db, user, message="Erin Expert approved “Refund windows”.", link="/articles/1") -> Notification:
    row = notify(session=db, users=[user], kind="approved", message=message, link=link)[0]
    db.commit()
    return row


def test_the_unread_count_shows_in_the_nav_and_drops_when_read(client, db, alice):
    assert unread_in_nav(client.get("/").text) == 0
    first = _notify(db, alice, link="/articles/1")
    _notify(db, alice, "Erin Expert certified “Returns”.", link="/articles/2")
    assert unread_in_nav(client.get("/").text) == 2

    page = client.get("/inbox")
    assert page.status_code == 200
    assert "Erin Expert approved “Refund windows”." in page.text
    assert f'action="/inbox/{first.id}/read"' in page.text
    assert page.text.count('class="result unread"') == 2

    opened = form_post(client, f"/inbox/{first.id}/read", page="/inbox")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/articles/1"
    page = client.get("/inbox")
    assert unread_in_nav(page.text) == 1
    assert page.text.count('class="result unread"') == 1
    assert '<a class="title" href="/articles/1">' in page.text  # read items are plain links

    done = form_post(client, "/inbox/read-all", page="/inbox")
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert unread_in_nav(page.text) == 0
    assert "All notifications are marked as read." in page.text
    assert "Mark all as read" not in page.text


def test_the_count_is_only_the_viewers_own(client, db, alice, make_user):
    _notify(db, make_user())
    assert unread_in_nav(client.get("/inbox").text) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_the_preference_form_saves(client, db, alice):
    page = client.get("/inbox")
    assert 'value="immediate" checked' in page.text
    assert "Email is only sent when the server has email configured" in page.text
    for mode in ("daily", "off", "immediate", "daily"):
        response = form_post(client, "/inbox/preferences", {"mode": mode}, page="/inbox")
        assert response.status_code == 303
    db.expire_all()
    assert inbox.get_preference(session=db, actor=alice) is NotificationMode.daily
    page = client.get("/inbox?done=preferences")
    assert 'value="daily" checked' in page.text
    assert "Your email preference was saved." in page.text


def test_an_unknown_mode_is_refused(client, db, alice):
    response = form_post(client, "/inbox/preferences", {"mode": "hourly"}, page="/inbox")
    assert response.status_code == 422
    assert inbox.get_preference(session=db, actor=alice) is NotificationMode.immediate


def test_another_users_notification_is_not_found(client, db, alice, make_user):
    theirs = _notify(db, make_user())
    response = form_post(client, f"/inbox/{theirs.id}/read", page="/inbox")
    assert response.status_code == 404
    assert form_post(client, "/inbox/999999/read", page="/inbox").status_code == 404
    db.expire_all()
    assert db.get(Notification, theirs.id).read_at is None


def test_a_stored_link_never_redirects_off_site(client, db, alice):
    evil = _notify(db, alice, link="//evil.example.com/")
    response = form_post(client, f"/inbox/{evil.id}/read", page="/inbox")
    assert response.headers["location"] == "/inbox"


@pytest.mark.parametrize("path", ["/inbox/{id}/read", "/inbox/read-all", "/inbox/preferences"])
def test_forms_require_the_csrf_token(client, db, alice, path):
    note = _notify(db, alice)
    csrf_from(client.get("/inbox").text)  # the page does carry a token...
    response = client.post(path.format(id=note.id), data={"mode": "off"}, follow_redirects=False)
    assert response.status_code == 403  # ...but a request without it is refused
    db.expire_all()
    assert db.get(Notification, note.id).read_at is None
    assert inbox.get_preference(session=db, actor=alice) is NotificationMode.immediate
