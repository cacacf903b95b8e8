"""Administrators manage webhooks on /admin/webhooks: add one (its secret shown once), see each
delivery in its log, retry, pause, delete; and under a running app (its background sender on),
a write through the API returns at once while the receiver hangs, and the event still arrives."""

from __future__ import annotations

import html
import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from kb.clock import utcnow
from kb.settings import Settings
from tests.helpers import PASSWORD, TEST_SECRET, api_token_for, csrf_from, form_post, login, rows
from tests.webhook_receiver import Receiver
from workflow import webhook_sender
from workflow.models import Webhook, WebhookDelivery

PAGE = "/admin/webhooks"


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def admin(client, make_user):
    user = make_user("admin")
    login(client, user.email)
    return user


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r.up()


def add(client, url: str, events=("question.asked",)):
    return form_post(client, PAGE, {"url": url, "events": list(events)}, page=PAGE)


def test_admin_adds_a_webhook_and_sees_its_secret_once(client, db, admin, receiver):
    page = client.get(PAGE)
    assert page.status_code == 200 and "No webhooks yet." in page.text
    assert page.text.count('name="events"') == 5 and "entry.needs_reverification" in page.text
    added = add(client, receiver.url, events=("question.asked", "entry.certified"))
    assert added.status_code == 201
    [hook] = rows(db, Webhook)
    assert hook.url == receiver.url and hook.events == ["entry.certified", "question.asked"]
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40 and hook.created_by == admin.id
    assert hook.secret in added.text and "it will not be shown again" in text_of(added.text)
    for later in (PAGE, f"{PAGE}/{hook.id}"):
        assert hook.secret not in client.get(later).text
    assert f'href="{PAGE}/{hook.id}"' in client.get(PAGE).text


@pytest.mark.parametrize("url, events, sentence", [
    ("", ["question.asked"], "Enter the address kb should send the events to."),
    ("ftp://example.com/hooks", ["question.asked"], "The address must start with https:// or http://."),
    ("http://127.0.0.1:9/kb", [], "Choose at least one event to send."),
    ("http://127.0.0.1:9/kb", ["entry.deleted"], "There is no event called 'entry.deleted'"),
    ("https://no-such-host.invalid/kb", ["question.asked"], "kb cannot find the host no-such-host.invalid"),
])
def test_refused_webhooks_are_explained_in_the_form(client, db, admin, url, events, sentence):
    refused = add(client, url, events)
    assert refused.status_code == 422
    assert sentence in text_of(refused.text)
    assert f'value="{url}"' in refused.text  # what was typed stays
    assert rows(db, Webhook) == []


def test_a_form_without_its_csrf_token_is_refused(client, db, admin):
    refused = client.post(PAGE, data={"url": "http://127.0.0.1:9/kb", "events": "question.asked"},
                          follow_redirects=False)
    assert refused.status_code == 403 and rows(db, Webhook) == []


@pytest.mark.parametrize("role", ["agent", "author", "expert"])
def test_only_admins_see_and_change_webhooks(client, db, make_user, role):
    login(client, make_user(role).email)
    assert client.get(PAGE).status_code == 403
    assert add(client, "http://127.0.0.1:9/kb").status_code == 403
    assert rows(db, Webhook) == []


def test_the_delivery_log_shows_each_attempt_and_retries_on_request(client, db, admin, receiver, engine, settings):
    hook_page = add(client, receiver.url)
    [hook] = rows(db, Webhook)
    receiver.secret = hook.secret
    receiver.status = 503
    bearer = {"Authorization": f"Bearer {api_token_for(db, admin)}"}
    assert client.post("/api/v1/questions", json={"title": "Where is my refund?", "body": "Asking."},
                       headers=bearer).status_code == 201
    assert hook_page.status_code == 201
    log = f"{PAGE}/{hook.id}"
    assert "waiting" in text_of(client.get(log).text)
    webhook_sender.deliver(engine=engine, settings=settings)
    page = text_of(client.get(log).text)
    assert "retrying" in page and "HTTP 503: The receiver answered 503" in page
    # Give up on it (as after its last attempt), then "Retry now" with the receiver fixed.
    [delivery] = rows(db, WebhookDelivery)
    delivery.failed_at, delivery.attempts = utcnow(), delivery.attempt_limit
    db.add(delivery)
    db.commit()
    page = client.get(log).text
    assert "failed" in text_of(page) and "Retry all 1 failed" in text_of(page)
    receiver.status = 200
    retried = form_post(client, f"{log}/deliveries/{delivery.id}/retry", page=log)
    assert retried.status_code == 303 and "Sending again now." in text_of(client.get(retried.headers["location"]).text)
    assert webhook_sender.deliver(engine=engine, settings=settings).delivered == 1
    page = text_of(client.get(log).text)
    assert "delivered" in page and "Retry now" not in page
    assert [p["entry"]["title"] for p in receiver.processed.values()] == ["Where is my refund?"]
    summary = text_of(client.get(PAGE).text)
    assert "1 delivered" in summary


def test_pause_resume_and_delete(client, db, admin):
    add(client, "http://127.0.0.1:9/kb")
    [hook] = rows(db, Webhook)
    log = f"{PAGE}/{hook.id}"
    paused = form_post(client, f"{log}/pause", page=log)
    assert paused.status_code == 303 and "Paused" in text_of(client.get(paused.headers["location"]).text)
    assert rows(db, Webhook)[0].active is False
    assert "Resume" in client.get(log).text
    form_post(client, f"{log}/resume", page=log)
    assert rows(db, Webhook)[0].active is True
    deleted = form_post(client, f"{log}/delete", page=log)
    assert deleted.status_code == 303
    assert "Deleted the webhook for http://127.0.0.1:9/kb" in text_of(client.get(deleted.headers["location"]).text)
    assert rows(db, Webhook) == [] and client.get(log).status_code == 404


def test_what_a_receiver_answers_is_shown_as_text(client, db, admin, engine, settings):
    """A receiver's answer is someone else's text: the log shows it, never runs it."""
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'

    with Receiver() as receiver:
        original = receiver.server.RequestHandlerClass

        class Handler(original):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = hostile.encode()
                self.send_response(400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        receiver.server.RequestHandlerClass = Handler
        receiver.up()
        add(client, receiver.url + "?<b>x</b>")
        bearer = {"Authorization": f"Bearer {api_token_for(db, admin)}"}
        client.post("/api/v1/questions", json={"title": "Hostile?", "body": "?"}, headers=bearer)
        webhook_sender.deliver(engine=engine, settings=settings)
    [hook] = rows(db, Webhook)
    page = client.get(f"{PAGE}/{hook.id}").text
    assert "<script>alert(2)</script>" not in page and "<img src=x" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_the_admin_menu_has_webhooks(client, admin):
    assert f'href="{PAGE}"' in client.get("/admin").text


# --- kb serve's background sender ------------------------------------------------------------------


def test_under_a_running_app_writes_return_at_once_while_the_receiver_hangs(engine, db, make_user, tmp_path):
    """The acceptance check: the receiver blocks every request until released; a question posted
    through the API meanwhile is answered at once, and its event arrives once the receiver answers."""
    from web.app import create_app

    settings = Settings(env="development", data_dir=tmp_path / "data", secret_key=TEST_SECRET, semantic=False,
                        periodic_seconds=3600)  # background tasks on: the sender, the indexer, the jobs
    app = create_app(settings=settings, engine=engine)
    # People first: with the app's background tasks writing, the test's own session only reads.
    agent, admin = make_user("agent", password=PASSWORD), make_user("admin")
    token = api_token_for(db, agent)
    hold = threading.Event()
    with Receiver(hold=hold) as receiver, TestClient(app) as client:
        receiver.up()
        login(client, admin.email)
        page = client.get(PAGE)
        assert client.post(PAGE, data={"url": receiver.url, "events": ["question.asked"],
                                       "csrf_token": csrf_from(page.text)}).status_code == 201
        receiver.secret = rows(db, Webhook)[0].secret
        bearer = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        first = client.post("/api/v1/questions", json={"title": "First while hanging", "body": "?"}, headers=bearer)
        took_first = time.monotonic() - started
        assert first.status_code == 201
        assert receiver.arrived.wait(10), "kb serve's sender did not send the first event"
        # The sender is now stuck in the receiver (which answers only when released, after the
        # sender's 5-second timeout); another write does not wait for it either.
        started = time.monotonic()
        second = client.post("/api/v1/questions", json={"title": "Second while hanging", "body": "?"}, headers=bearer)
        took_second = time.monotonic() - started
        assert second.status_code == 201
        assert max(took_first, took_second) < 2.0, f"writes took {took_first:.2f} and {took_second:.2f} s"
        hold.set()
        deadline = time.monotonic() + 20
        while len(receiver.processed) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    titles = sorted(p["entry"]["title"] for p in receiver.processed.values())
    assert titles == ["First while hanging", "Second while hanging"]
    assert receiver.invalid == [] and receiver.repeats == []
