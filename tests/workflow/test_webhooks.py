"""Outgoing webhooks (issue 16): every subscribed event reaches a real receiver once, signed; a
receiver that was down gets them when it is back; a write never waits for a receiver; a change
that rolls back sends nothing; two senders never send one delivery twice.

The receiver (``tests.webhook_receiver``) is an HTTP server on a free port that checks each
signature with the example of docs/admins.md and drops repeats by delivery id, as receivers are
told to; the tests also assert that, in normal operation, no delivery id arrives twice at all.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from kb.accounts.actors import SYSTEM
from kb.clock import utcnow
from kb.content import forum
from kb.content.models import Revision
from kb.content.schemas import AnswerCreate, QuestionCreate
from kb.db import make_engine, unit_of_work
from kb.errors import Forbidden, ValidationFailed
from kb.settings import Settings
from tests.helpers import TEST_SECRET, rows
from tests.webhook_receiver import Receiver
from workflow import service as workflow
from workflow import webhook_sender, webhooks
from workflow.expiry import as_utc, sweep
from workflow.flags import raise_flag
from workflow.models import Certification, FlagReason, Webhook, WebhookDelivery

ALL = list(webhooks.EVENTS)
BASE = "https://kb.example.com"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(env="development", data_dir=tmp_path, secret_key=TEST_SECRET, periodic_seconds=0,
                    semantic=False, base_url=BASE)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def hook_for(db, receiver: Receiver, settings: Settings, events=ALL) -> Webhook:
    hook = webhooks.create_webhook(session=db, actor=SYSTEM, settings=settings, url=receiver.url, events=events)
    db.commit()
    receiver.secret = hook.secret
    return hook


def deliver(engine, settings, **kwargs):
    return webhook_sender.deliver(engine=engine, settings=settings, **kwargs)


@pytest.fixture
def people(db, make_user, wf):
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    wf.designate(db, expert)
    db.commit()
    return {"author": author, "expert": expert, "agent": agent}


def certified_article(db, wf, people, title="Refund windows"):
    entry = wf.article(db, people["author"], title=title)
    wf.drive(db, db.get(Revision, entry.latest_revision_id), wf.S.certified, author=people["author"],
             reviewer=people["expert"])
    db.commit()
    return entry


# --- every event, once, signed ---------------------------------------------------------------------


def test_every_subscribed_event_arrives_once_with_a_valid_signature(db, engine, settings, receiver, people, wf):
    receiver.up()
    hook_for(db, receiver, settings)
    entry = certified_article(db, wf, people)
    question = forum.ask_question(session=db, actor=people["agent"],
                                  data=QuestionCreate(title="Can I refund a gift card?", body="A customer asks."))
    db.commit()
    answer = forum.answer_question(session=db, actor=people["expert"], question=question,
                                   data=AnswerCreate(body="No, gift cards are final."))
    raise_flag(session=db, actor=people["agent"], entry=entry, reason=FlagReason.outdated, comment="Old rule")
    db.commit()
    until = as_utc(db.get(Certification, entry.id).valid_until)
    sweep(session=db, now=until + timedelta(minutes=1))  # expired: needs re-verification
    db.commit()
    workflow.reverify(session=db, actor=people["expert"], entry=entry)
    db.commit()
    # A draft article (never certified) raises no event a webhook hears of, and a flag on a draft
    # reveals neither its title nor its text.
    draft = wf.article(db, people["author"], title="Secret draft title", body="Secret draft body")
    raise_flag(session=db, actor=people["author"], entry=draft, reason=FlagReason.unclear)
    db.commit()

    report = deliver(engine, settings)
    assert report.delivered == 7 and report.failed == 0
    assert receiver.invalid == [] and receiver.repeats == [] and len(receiver.requests) == 7
    assert receiver.events() == sorted(["entry.certified", "question.asked", "question.answered", "entry.flagged",
                                        "entry.needs_reverification", "entry.certified", "entry.flagged"])
    by_event = {}
    for payload in receiver.processed.values():
        by_event.setdefault(payload["event"], []).append(payload)
    first, again = sorted(by_event["entry.certified"], key=lambda p: p["reverified"])
    assert first["entry"] == {"id": entry.id, "kind": "article", "title": "Refund windows",
                              "url": f"{BASE}/entries/{entry.id}", "limited_to_groups": False}
    assert first["actor"] == {"id": people["expert"].id, "name": people["expert"].display_name}
    assert first["certification"]["revision"] == 1 and first["certification"]["valid_until"].endswith("Z")
    assert again["reverified"] is True and again["certification"]["status"] == "active"
    [stale] = by_event["entry.needs_reverification"]
    assert stale["actor"] is None and stale["certification"]["status"] == "needs_reverification"
    [asked] = by_event["question.asked"]
    assert asked["entry"]["title"] == "Can I refund a gift card?" and asked["actor"]["id"] == people["agent"].id
    [answered] = by_event["question.answered"]
    assert answered["entry"]["id"] == answer.id and answered["entry"]["kind"] == "answer"
    assert answered["question"] == {"id": question.id, "kind": "question", "title": "Can I refund a gift card?",
                                    "url": f"{BASE}/entries/{question.id}", "limited_to_groups": False}
    flagged = {p["entry"]["id"]: p for p in by_event["entry.flagged"]}
    assert flagged[entry.id]["flag"]["reason"] == "outdated" and flagged[entry.id]["entry"]["title"] == "Refund windows"
    assert flagged[draft.id]["entry"]["title"] is None
    everything = b"".join(r.body for r in receiver.requests)
    assert b"Secret draft" not in everything and b"Refunds are possible" not in everything  # no title of a draft, no body
    for item in receiver.requests:
        assert item.headers["Content-Type"] == "application/json"
        assert item.headers["X-KB-Event"] == item.payload["event"] and item.headers["X-KB-Attempt"] == "1"
    assert deliver(engine, settings).delivered == 0  # nothing is sent twice
    assert all(d.delivered_at and d.attempts == 1 and d.last_status == 204 for d in rows(db, WebhookDelivery))


def test_an_entry_limited_to_groups_is_named_by_id_only(db, engine, settings, receiver, people, wf):
    from kb.accounts import groups
    from kb.content.audiences import set_audience

    receiver.up()
    hook_for(db, receiver, settings)
    tier2 = groups.create_group(session=db, actor=SYSTEM, name="Tier 2")
    groups.add_member(session=db, actor=SYSTEM, group=tier2, user=people["expert"])  # its reviewer
    entry = wf.article(db, people["author"], title="Kowari escalation routes")
    set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier2.id])
    wf.drive(db, db.get(Revision, entry.latest_revision_id), wf.S.certified, author=people["author"],
             reviewer=people["expert"])
    raise_flag(session=db, actor=people["author"], entry=entry, reason=FlagReason.outdated, comment="Kowari moved")
    db.commit()
    assert deliver(engine, settings).delivered == 2
    assert b"Kowari" not in b"".join(r.body for r in receiver.requests)  # receivers reach people outside Tier 2
    for payload in receiver.processed.values():
        assert payload["entry"] == {"id": entry.id, "kind": "article", "title": None,
                                    "url": f"{BASE}/entries/{entry.id}", "limited_to_groups": True}


def test_a_webhook_hears_only_its_events(db, engine, settings, receiver, people, wf):
    receiver.up()
    hook_for(db, receiver, settings, events=["question.asked"])
    certified_article(db, wf, people)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Where is my parcel?", body="?"))
    db.commit()
    deliver(engine, settings)
    assert receiver.events() == ["question.asked"]


def test_a_rolled_back_change_sends_nothing(db, engine, settings, receiver, people):
    receiver.up()
    hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Never asked", body="?"))
    db.rollback()
    assert rows(db, WebhookDelivery) == []
    assert deliver(engine, settings).delivered == 0 and receiver.requests == []


def test_imported_questions_send_nothing(db, settings, receiver, people):
    from kb import events
    from kb.content.models import Entry, EntryKind

    hook_for(db, receiver, settings)
    question = forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Asked", body="?"))
    db.flush()
    before = len(rows(db, WebhookDelivery))
    events.publish(session=db, event=events.Event(events.ENTRY_CREATED, entry_id=question.id, actor_id=people["agent"].id,
                                                  data={"kind": EntryKind.question.value, "imported": True}))
    db.commit()
    assert len(rows(db, WebhookDelivery)) == before == 1
    assert db.get(Entry, question.id) is not None


# --- a receiver that is down, failing, or slow -------------------------------------------------------


def test_a_receiver_that_was_down_gets_every_event_once_when_it_is_back(db, engine, settings, receiver, people):
    hook_for(db, receiver, settings)  # registered while the receiver is down: connections are refused
    for n in range(5):
        forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title=f"Question {n}", body="?"))
        db.commit()
    now = utcnow()
    down = deliver(engine, settings, now=now)
    # One attempt for the receiver that is down; its other deliveries wait for the same retry.
    assert (down.delivered, down.failed, down.postponed) == (0, 1, 4)
    pending = rows(db, WebhookDelivery)
    assert sorted(d.attempts for d in pending) == [0, 0, 0, 0, 1]
    [tried] = [d for d in pending if d.attempts == 1]
    assert "cannot connect" in tried.last_error and tried.last_status is None
    assert {as_utc(d.next_attempt_at) for d in pending} == {now + webhook_sender.backoff(1)}
    assert deliver(engine, settings, now=now + timedelta(seconds=10)).failed == 0  # backoff: not due yet
    again = deliver(engine, settings, now=now + timedelta(seconds=31))  # still down: the retry waits longer
    assert again.failed == 1 and again.postponed == 4
    assert {as_utc(d.next_attempt_at) for d in rows(db, WebhookDelivery)} == {
        now + timedelta(seconds=31) + webhook_sender.backoff(2)}
    receiver.up()
    back = deliver(engine, settings, now=now + timedelta(seconds=31) + webhook_sender.backoff(2))
    assert back.delivered == 5 and back.failed == 0
    assert sorted(p["entry"]["title"] for p in receiver.processed.values()) == [f"Question {n}" for n in range(5)]
    assert receiver.repeats == [] and receiver.invalid == [] and len(receiver.requests) == 5
    assert {d.last_error for d in rows(db, WebhookDelivery)} == {None}


def test_after_its_last_attempt_a_delivery_shows_failed_until_retried(db, engine, settings, receiver, people):
    receiver.status = 500
    receiver.up()
    hook = hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Lost parcel", body="?"))
    db.commit()
    now = utcnow()
    for attempt in range(1, 13):
        report = deliver(engine, settings, now=now)
        assert report.failed == 1, attempt
        [row] = rows(db, WebhookDelivery)
        assert row.attempts == attempt and row.last_status == 500 and "answered 500" in row.last_error
        now = as_utc(row.next_attempt_at) if row.failed_at is None else now + timedelta(days=1)
    assert row.failed_at is not None and report.gave_up == 1
    assert deliver(engine, settings, now=now + timedelta(days=30)).failed == 0  # given up: no more attempts
    assert [(s.pending, s.failed) for s in webhooks.list_webhooks(session=db, actor=SYSTEM)] == [(0, 1)]
    receiver.status = 200
    assert webhooks.retry(session=db, actor=SYSTEM, webhook=hook) == 1
    db.commit()
    assert deliver(engine, settings).delivered == 1
    [row] = rows(db, WebhookDelivery)
    assert row.attempts == 13 and row.delivered_at and row.failed_at is None
    assert len(receiver.processed) == 1 and len(receiver.requests) == 13  # one delivery id, 13 attempts
    with pytest.raises(ValidationFailed, match="already arrived"):
        webhooks.retry(session=db, actor=SYSTEM, webhook=hook, delivery_id=row.id)


def test_redirects_are_not_followed(db, engine, settings, receiver, people):
    receiver.status, receiver.location = 302, "http://127.0.0.1:1/elsewhere"
    receiver.up()
    hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Moved?", body="?"))
    db.commit()
    assert deliver(engine, settings).failed == 1
    [row] = rows(db, WebhookDelivery)
    assert row.last_status == 302 and "do not follow redirects" in row.last_error
    assert len(receiver.requests) == 1


def test_a_write_never_waits_for_a_hanging_receiver(db, engine, settings, receiver, people):
    receiver.hold = threading.Event()
    receiver.up()
    hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="First", body="?"))
    db.commit()
    sender = threading.Thread(target=deliver, args=(engine, settings))
    sender.start()
    try:
        assert receiver.arrived.wait(10), "the sender did not reach the receiver"
        # The receiver holds the sender's request; a write meanwhile commits at once.
        started = time.monotonic()
        forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Second", body="?"))
        db.commit()
        took = time.monotonic() - started
    finally:
        receiver.hold.set()
        sender.join(15)
    assert took < 1.0, f"the write took {took:.2f} s while the receiver hung"
    assert len(rows(db, WebhookDelivery)) == 2


def test_a_paused_webhook_gets_nothing_until_resumed(db, engine, settings, receiver, people):
    receiver.up()
    hook = hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Before the pause", body="?"))
    webhooks.set_active(session=db, actor=SYSTEM, webhook=hook, active=False)
    db.commit()
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="During the pause", body="?"))
    db.commit()
    assert deliver(engine, settings).delivered == 0 and len(rows(db, WebhookDelivery)) == 1
    webhooks.set_active(session=db, actor=SYSTEM, webhook=db.get(Webhook, hook.id), active=True)
    db.commit()
    assert deliver(engine, settings).delivered == 1
    assert [p["entry"]["title"] for p in receiver.processed.values()] == ["Before the pause"]


# --- several senders ----------------------------------------------------------------------------------


def test_two_senders_at_once_never_send_a_delivery_twice(db, engine, settings, receiver, people):
    receiver.delay = 0.01  # each request takes a moment: the senders overlap
    receiver.up()
    hook_for(db, receiver, settings)
    for n in range(40):
        forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title=f"Race {n}", body="?"))
    db.commit()
    engines = [make_engine(engine.url.render_as_string(hide_password=False)) for _ in range(2)]
    delivered, errors = {0: 0, 1: 0}, []
    go = threading.Barrier(2)

    def run(own, n):
        try:
            go.wait()
            while (report := webhook_sender.deliver(engine=own, settings=settings, batch_size=5)).delivered:
                delivered[n] += report.delivered
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(own, n)) for n, own in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for own in engines:
        own.dispose()
    assert errors == []
    assert sum(delivered.values()) == 40 and min(delivered.values()) > 0, delivered  # both sent some
    assert receiver.repeats == [] and len(receiver.requests) == 40 and len(receiver.processed) == 40


def test_a_backlog_is_sent_in_rounds_that_say_more_is_due(db, engine, settings, receiver, people):
    receiver.up()
    hook_for(db, receiver, settings, events=["question.asked"])
    for n in range(12):
        forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title=f"Backlog {n}", body="?"))
    db.commit()
    first = deliver(engine, settings, batch_size=5, max_batches=2)
    assert (first.delivered, first.more) == (10, True)
    last = deliver(engine, settings, batch_size=5, max_batches=2)
    assert (last.delivered, last.more) == (2, False)
    assert len(receiver.processed) == 12 and receiver.repeats == []


def test_a_sender_that_died_leaves_its_claims_to_another_after_the_lease(db, engine, settings, receiver, people):
    receiver.up()
    hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Claimed", body="?"))
    db.commit()
    now = utcnow()
    [claimed] = webhook_sender.claim(engine, now=now)  # ... and the sender dies before sending
    assert deliver(engine, settings, now=now + timedelta(seconds=5)).delivered == 0  # still leased
    assert deliver(engine, settings, now=now + webhook_sender.LEASE + timedelta(seconds=1)).delivered == 1
    assert [p["delivery_id"] for p in receiver.processed.values()] == [claimed.delivery.delivery_id]


# --- who may, and where to ----------------------------------------------------------------------------


def test_only_administrators_manage_webhooks(db, settings, people, receiver):
    for person in people.values():
        with pytest.raises(Forbidden, match="Only an administrator"):
            webhooks.create_webhook(session=db, actor=person, settings=settings, url=receiver.url, events=ALL)
        with pytest.raises(Forbidden):
            webhooks.list_webhooks(session=db, actor=person)


@pytest.mark.parametrize("url, sentence", [
    ("", "Enter the address"),
    ("ftp://example.com/x", "must start with https:// or http://"),
    ("https://user:pw@example.com/x", "Leave the user name and password out"),
    ("https://example.com/x#part", "Leave the #part out"),
    ("https://" + "a" * 600 + ".com", "at most 500 characters"),
    ("https:///nohost", "has no host name"),
    ("https://[::1", "not a web address"),
])
def test_addresses_refused_everywhere(db, settings, url, sentence):
    with pytest.raises(ValidationFailed, match=sentence.replace(".", r"\.").replace("#", "#")) as refused:
        webhooks.create_webhook(session=db, actor=SYSTEM, settings=settings, url=url, events=ALL)
    assert refused.value.field == "url"


def test_events_must_be_known_and_at_least_one(db, settings, receiver):
    with pytest.raises(ValidationFailed, match="Choose at least one event") as none:
        webhooks.create_webhook(session=db, actor=SYSTEM, settings=settings, url=receiver.url, events=[])
    with pytest.raises(ValidationFailed, match="no event called 'entry.deleted'"):
        webhooks.create_webhook(session=db, actor=SYSTEM, settings=settings, url=receiver.url, events=["entry.deleted"])
    assert none.value.field == "events"


def _production(**kwargs) -> Settings:
    return Settings(env="production", secret_key=TEST_SECRET, base_url=BASE, **kwargs)


def _resolving_to(monkeypatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(webhooks.socket, "getaddrinfo",
                        lambda host, port, **kw: [(family, socket.SOCK_STREAM, 6, "", (address, port))])


@pytest.mark.parametrize("address, allowed", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.10", False), ("172.16.5.4", False),
    ("100.64.0.1", False), ("169.254.169.254", False), ("::1", False), ("fd00::1", False),
    ("::ffff:10.0.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
])
def test_production_sends_only_to_public_addresses(db, monkeypatch, address, allowed):
    _resolving_to(monkeypatch, address)
    settings = _production()
    if allowed:
        assert webhooks.check_url("https://hooks.example.com/kb", settings=settings)
    else:
        with pytest.raises(ValidationFailed, match=f"points to {address.removeprefix('::ffff:')}"):
            webhooks.check_url("https://hooks.example.com/kb", settings=settings)
    with pytest.raises(ValidationFailed, match="must start with https://"):
        webhooks.check_url("http://hooks.example.com/kb", settings=settings)


def test_listed_hosts_may_be_private_but_never_link_local(monkeypatch):
    settings = _production(webhook_private_hosts="helpdesk.internal, other.internal")
    _resolving_to(monkeypatch, "10.1.2.3")
    assert webhooks.check_url("https://helpdesk.internal/kb", settings=settings)
    with pytest.raises(ValidationFailed, match="add intranet.example to KB_WEBHOOK_PRIVATE_HOSTS"):
        webhooks.check_url("https://intranet.example/kb", settings=settings)
    _resolving_to(monkeypatch, "169.254.169.254")
    with pytest.raises(ValidationFailed, match="never sends webhooks to"):
        webhooks.check_url("https://helpdesk.internal/kb", settings=settings)


def test_the_address_is_checked_again_when_sending(db, engine, settings, receiver, people, monkeypatch):
    """A name that pointed to a public address when registered and to a private one later is not
    sent to (DNS rebinding): the sender resolves and checks it for every attempt."""
    receiver.up()
    _resolving_to(monkeypatch, "93.184.216.34")
    production = _production()
    hook = webhooks.create_webhook(session=db, actor=SYSTEM, settings=production,
                                   url="https://hooks.example.com/kb", events=ALL)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Rebound", body="?"))
    db.commit()
    _resolving_to(monkeypatch, "127.0.0.1")
    assert deliver(engine, production).failed == 1
    [row] = rows(db, WebhookDelivery, webhook_id=hook.id)
    assert "points to 127.0.0.1, a private address" in row.last_error and row.delivered_at is None
    assert receiver.requests == []


def test_delivered_deliveries_leave_the_log_after_thirty_days(db, engine, settings, receiver, people):
    receiver.up()
    hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Old news", body="?"))
    db.commit()
    deliver(engine, settings)
    with unit_of_work(engine) as session:
        assert webhook_sender.forget_delivered(session=session, now=utcnow() + timedelta(days=29)) == 0
    with unit_of_work(engine) as session:
        assert webhook_sender.forget_delivered(session=session, now=utcnow() + timedelta(days=31)) == 1
    assert rows(db, WebhookDelivery) == []


def test_deleting_a_webhook_drops_its_log(db, settings, receiver, people):
    hook = hook_for(db, receiver, settings)
    forum.ask_question(session=db, actor=people["agent"], data=QuestionCreate(title="Dropped", body="?"))
    db.commit()
    webhooks.delete_webhook(session=db, actor=SYSTEM, webhook=db.get(Webhook, hook.id))
    db.commit()
    assert rows(db, WebhookDelivery) == [] and rows(db, Webhook) == []
    assert list(db.exec(select(Webhook))) == []
