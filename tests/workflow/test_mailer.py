"""Email delivery of notifications through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from kb.clock import utcnow
from workflow import inbox, mailer
from workflow.models import Notification, NotificationMode, NotificationPreference
from workflow.notify import notify


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP handler that keeps every message it accepts, or refuses every recipient."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    """start(refuse=False, port=None) -> (received messages, smtp_url); servers stop at the end of the test."""
    controllers = []

    def start(refuse: bool = False, port: int | None = None):
        sink = Sink(refuse=refuse)
        port = port or _free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return sink.messages, f"smtp://127.0.0.1:{port}"

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def sink(smtp):
    return smtp()


@pytest.fixture
def mail_settings(settings, sink):
    return settings.model_copy(update={"smtp_url": sink[1], "base_url": "https://kb.example.com/"})


def _user(db, wf, name: str, mode: NotificationMode | None = None):
    user = wf.user(db, "author", name=name)
    if mode is not None:
        inbox.set_preference(session=db, actor=user, mode=mode)
    db.commit()
    return user


def _notify(db, user, message: str = "Erin Expert approved “Refund windows”.", link: str = "/articles/1"):
    rows = notify(session=db, users=[user], kind="approved", message=message, link=link)
    db.commit()
    return rows[0]


def _emailed(db, user) -> list:
    db.expire_all()
    return [n.emailed_at for n in db.exec(select(Notification).where(Notification.user_id == user.id)
                                          .order_by(Notification.id))]


def _deliver(db, settings, **kwargs) -> int:
    sent = mailer.deliver_pending(session=db, settings=settings, **kwargs)
    db.commit()
    return sent


def _digests(db, settings, **kwargs) -> int:
    sent = mailer.send_digests(session=db, settings=settings, **kwargs)
    db.commit()
    return sent


def test_immediate_users_get_one_email_per_notification(db, wf, sink, mail_settings):
    messages, _ = sink
    alice = _user(db, wf, "alice")  # no preference row: immediate is the default
    _notify(db, alice, "Erin Expert approved “Refund windows”.", "/review/7")
    _notify(db, alice, "Erin Expert certified “Refund windows”.", "/review/7")

    assert _deliver(db, mail_settings) == 2
    assert all(_emailed(db, alice))
    assert len(messages) == 2
    first = messages[0]
    assert first["To"].addresses[0].addr_spec == alice.email
    assert first["From"] == "kb@localhost"
    assert first["Subject"] == "[kb] Erin Expert approved “Refund windows”"
    body = first.get_content()
    assert "Erin Expert approved “Refund windows”." in body
    assert "https://kb.example.com/review/7" in body
    assert first.get_content_type() == "text/plain"
    # Nothing is sent twice.
    assert _deliver(db, mail_settings) == 0
    assert len(messages) == 2


def test_old_and_read_notifications_are_not_emailed(db, wf, sink, mail_settings):
    messages, _ = sink
    alice = _user(db, wf, "alice")
    _notify(db, alice)
    seen = _notify(db, alice, "Erin Expert certified “Refund windows”.")
    inbox.mark_read(session=db, actor=alice, notification_id=seen.id)
    db.commit()

    assert _deliver(db, mail_settings, now=utcnow() + timedelta(days=3)) == 0  # too old by then
    assert _deliver(db, mail_settings) == 1
    assert [m["Subject"] for m in messages] == ["[kb] Erin Expert approved “Refund windows”"]


def test_a_workflow_notification_becomes_an_email(db, wf, cast, article, sink, mail_settings):
    messages, _ = sink
    revision_id = article.latest_revision_id
    wf.act(db, cast.author, revision_id, "submit")
    db.commit()
    db.expire_all()
    wf.act(db, cast.topic_expert, revision_id, "request-changes", "Please add the 10-day rule.")
    db.commit()

    mailer.deliver_pending(session=db, settings=mail_settings)
    db.commit()
    to_author = [m for m in messages if m["To"].addresses[0].addr_spec == cast.author.email]
    assert len(to_author) == 1
    assert to_author[0]["Subject"] == "[kb] topic-expert asked for changes to “Refund windows”"
    assert "Please add the 10-day rule." in to_author[0].get_content()
    long_title = "Refunds after a cancelled order that was paid with a gift card"
    assert mailer.subject_for(f"Erin Expert asked for changes to “{long_title}”: too long") == (
        "[kb] Erin Expert asked for changes to “Refunds after a cancelled order that…”")


def test_daily_users_get_one_digest_after_24_hours_and_not_before(db, wf, sink, mail_settings):
    messages, _ = sink
    now = utcnow()
    dana = _user(db, wf, "dana", NotificationMode.daily)
    db.get(NotificationPreference, dana.id).last_digest_at = now - timedelta(hours=1)
    db.commit()
    _notify(db, dana, "Erin Expert approved “Refund windows”.", "/review/1")
    _notify(db, dana, "Erin Expert certified “Returns”.", "/review/2")

    assert _deliver(db, mail_settings) == 0  # daily users get no immediate email
    assert _digests(db, mail_settings, now=now) == 0  # the last digest is only an hour old
    assert _digests(db, mail_settings, now=now + timedelta(hours=22)) == 0
    assert messages == []

    later = now + timedelta(hours=23, minutes=1)
    assert _digests(db, mail_settings, now=later) == 1
    assert len(messages) == 1
    digest = messages[0]
    assert digest["Subject"] == "[kb] Your daily digest: 2 new notifications"
    body = digest.get_content()
    assert "Erin Expert approved “Refund windows”." in body and "https://kb.example.com/review/1" in body
    assert "Erin Expert certified “Returns”." in body and "https://kb.example.com/review/2" in body
    assert all(_emailed(db, dana))
    db.expire_all()
    assert db.get(NotificationPreference, dana.id).last_digest_at == later

    # A new notification waits for the next day.
    _notify(db, dana, "Erin Expert rejected “Gift cards”: duplicate")
    assert _digests(db, mail_settings, now=later + timedelta(hours=2)) == 0
    assert _digests(db, mail_settings, now=later + timedelta(hours=24)) == 1
    assert len(messages) == 2 and "1 new notification" in messages[1]["Subject"]


def test_a_first_digest_goes_out_without_waiting(db, wf, sink, mail_settings):
    messages, _ = sink
    dana = _user(db, wf, "dana", NotificationMode.daily)  # never had a digest
    assert _digests(db, mail_settings) == 0  # nothing pending: no empty digest
    _notify(db, dana)
    assert _digests(db, mail_settings) == 1
    assert len(messages) == 1


def test_off_users_get_no_email_but_keep_their_inbox(db, wf, sink, mail_settings):
    messages, _ = sink
    olga = _user(db, wf, "olga", NotificationMode.off)
    _notify(db, olga)

    assert _deliver(db, mail_settings) == 0
    assert _digests(db, mail_settings, now=utcnow() + timedelta(days=1)) == 0
    assert messages == []
    assert _emailed(db, olga) == [None]
    assert inbox.unread_count(session=db, actor=olga) == 1


def test_without_smtp_url_nothing_is_sent_and_notifications_stay_in_app(db, wf, sink, settings):
    messages, _ = sink
    assert settings.smtp_url is None
    alice = _user(db, wf, "alice")
    dana = _user(db, wf, "dana", NotificationMode.daily)
    _notify(db, alice)
    _notify(db, dana)

    assert _deliver(db, settings) == 0
    assert _digests(db, settings) == 0
    assert messages == []
    assert _emailed(db, alice) == [None] and _emailed(db, dana) == [None]
    assert [n.message for n in inbox.inbox(session=db, actor=alice)] == ["Erin Expert approved “Refund windows”."]


def test_a_server_that_is_down_loses_nothing(db, wf, smtp, settings):
    port = _free_port()  # nothing listens here yet
    down = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}"})
    alice = _user(db, wf, "alice")
    dana = _user(db, wf, "dana", NotificationMode.daily)
    _notify(db, alice)
    _notify(db, alice, "Erin Expert certified “Refund windows”.")
    _notify(db, dana)

    assert _deliver(db, down) == 0
    assert _digests(db, down) == 0
    assert _emailed(db, alice) == [None, None] and _emailed(db, dana) == [None]
    db.expire_all()
    assert db.get(NotificationPreference, dana.id).last_digest_at is None

    messages, _ = smtp(port=port)  # the server comes back
    assert _deliver(db, down) == 2
    assert _digests(db, down) == 1
    assert len(messages) == 3
    assert all(_emailed(db, alice)) and all(_emailed(db, dana))


def test_a_server_that_refuses_the_recipient_is_retried_later(db, wf, smtp, settings):
    _, refusing_url = smtp(refuse=True)
    messages, working_url = smtp()
    alice = _user(db, wf, "alice")
    _notify(db, alice)

    assert _deliver(db, settings.model_copy(update={"smtp_url": refusing_url})) == 0
    assert _emailed(db, alice) == [None]
    assert _deliver(db, settings.model_copy(update={"smtp_url": working_url})) == 1
    assert len(messages) == 1


def test_a_malformed_smtp_url_is_logged_not_raised(db, wf, settings, caplog):
    alice = _user(db, wf, "alice")
    _notify(db, alice)
    bad = settings.model_copy(update={"smtp_url": "mailto://nowhere"})
    assert _deliver(db, bad) == 0
    assert "smtp://" in caplog.text
    assert _emailed(db, alice) == [None]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", mailer.SmtpConfig("mail.example.com", 25)),
        ("smtp://mail.example.com:2525", mailer.SmtpConfig("mail.example.com", 2525)),
        ("smtp://kb%40example.com:s%3Acret@mail.example.com:587?starttls=1",
         mailer.SmtpConfig("mail.example.com", 587, "kb@example.com", "s:cret", starttls=True)),
        ("smtps://u:p@mail.example.com", mailer.SmtpConfig("mail.example.com", 465, "u", "p", implicit_tls=True)),
    ],
)
def test_smtp_url_forms(url, expected):
    assert mailer.smtp_config(url) == expected
