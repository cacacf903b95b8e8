"""Links to set a password (kb.accounts.password_links): invitations and resets, one-time and
expiring, stored as hashes only, emailed after the commit (through a real local SMTP server)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlmodel import select

from kb.accounts import password_links as links
from kb.accounts import security
from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import ApiToken, PasswordLink, User, UserSession
from kb.accounts.schemas import TokenCreate, UserCreate
from kb.clock import travel, utcnow
from kb.errors import Conflict, Forbidden, Gone, Throttled, Unauthorized, ValidationFailed
from tests.helpers import PASSWORD, rows
from tests.mail_sink import MailSink, link_in
from workflow import audit_trail
from workflow.account_mail import wait_until_sent

NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def sink():
    with MailSink() as s:
        yield s


@pytest.fixture
def mail_settings(settings, sink):
    return settings.model_copy(update={"smtp_url": sink.url, "base_url": "https://kb.example.com/"})


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _send(db, settings, user, actor=SYSTEM, purpose=None):
    issued = links.send_link(session=db, actor=actor, user=user, settings=settings, purpose=purpose)
    db.commit()
    return issued


def test_an_invitation_is_emailed_with_a_link_that_sets_the_password(db, make_user, sink, mail_settings):
    admin = make_user("admin")
    data = UserCreate(email="new@example.com", display_name="Nora New", roles=["agent"])
    issued = links.invite_user(session=db, actor=admin, data=data, settings=mail_settings)
    db.commit()
    assert issued.purpose == links.INVITE and issued.emailed
    assert issued.url.startswith("https://kb.example.com/password/set?token=kbp_")

    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "new@example.com"
    assert "invited" in mail["Subject"]
    assert link_in(mail) == issued.url
    body = mail.get_content()
    assert "Nora New" in body and "new@example.com" in body

    pending = links.pending_link(session=db, token=_token(issued.url))
    assert (pending.email, pending.purpose) == ("new@example.com", links.INVITE)
    links.set_password_with_link(session=db, token=_token(issued.url), password=NEW_PASSWORD)
    db.commit()
    assert accounts.authenticate(session=db, email="new@example.com", password=NEW_PASSWORD).id == issued.user.id


def test_only_a_hash_of_the_token_is_stored(db, make_user, mail_settings):
    user = make_user("agent")
    token = _token(_send(db, mail_settings, user).url)
    (row,) = rows(db, PasswordLink, user_id=user.id)
    assert row.token_hash == security.token_hash(token)
    stored = [getattr(row, c.key) for c in sa_inspect(PasswordLink).columns]
    assert not any(token in str(value) for value in stored)
    assert len(token) > 40  # 256 random bits


def test_a_link_works_once(db, make_user, mail_settings):
    user = make_user("agent")
    token = _token(_send(db, mail_settings, user).url)
    links.set_password_with_link(session=db, token=token, password=NEW_PASSWORD)
    db.commit()
    with pytest.raises(Gone, match="expired or was already used; ask for a new one"):
        links.set_password_with_link(session=db, token=token, password="yet-another-password")
    with pytest.raises(Gone):
        links.pending_link(session=db, token=token)
    assert rows(db, PasswordLink) == []


def test_a_reset_link_expires_after_the_configured_hours(db, make_user, mail_settings):
    user = make_user("agent")
    token = _token(_send(db, mail_settings, user).url)  # has a password: a reset
    with travel(utcnow() + timedelta(hours=23)):
        assert links.pending_link(session=db, token=token).purpose == links.RESET
    with travel(utcnow() + timedelta(hours=24, minutes=1)):
        with pytest.raises(Gone):
            links.set_password_with_link(session=db, token=token, password=NEW_PASSWORD)
    shorter = mail_settings.model_copy(update={"password_reset_hours": 2})
    token = _token(_send(db, shorter, user).url)
    with travel(utcnow() + timedelta(hours=3)), pytest.raises(Gone):
        links.pending_link(session=db, token=token)


def test_an_invitation_lasts_the_configured_days(db, make_user, mail_settings):
    user = make_user("agent")
    issued = _send(db, mail_settings, user, purpose=links.INVITE)
    assert issued.expires_at - utcnow() > timedelta(days=6, hours=23)
    with travel(utcnow() + timedelta(days=6)):
        links.pending_link(session=db, token=_token(issued.url))
    with travel(utcnow() + timedelta(days=7, minutes=1)), pytest.raises(Gone):
        links.pending_link(session=db, token=_token(issued.url))


def test_a_new_link_ends_the_older_ones(db, make_user, mail_settings):
    user = make_user("agent")
    first = _token(_send(db, mail_settings, user).url)
    second = _token(_send(db, mail_settings, user).url)
    with pytest.raises(Gone):
        links.pending_link(session=db, token=first)
    links.pending_link(session=db, token=second)
    assert len(rows(db, PasswordLink, user_id=user.id)) == 1


@pytest.mark.parametrize("change", ["own password", "admin sets it", "deactivated"])
def test_changing_the_password_or_deactivating_ends_pending_links(db, make_user, mail_settings, change):
    admin = make_user("admin")
    user = make_user("agent")
    token = _token(_send(db, mail_settings, user).url)
    if change == "own password":
        accounts.set_password(session=db, actor=user, user=user, password=NEW_PASSWORD)
    elif change == "admin sets it":
        accounts.set_password(session=db, actor=admin, user=user, password=NEW_PASSWORD)
    else:
        accounts.deactivate_user(session=db, actor=admin, user=user)
    db.commit()
    with pytest.raises(Gone):
        links.set_password_with_link(session=db, token=token, password="the-attackers-password")


def test_using_a_link_signs_the_person_out_everywhere(db, make_user, mail_settings):
    user = make_user("agent")
    accounts.start_session(session=db, user=user, max_age_hours=12)
    accounts.create_api_token(session=db, actor=user, user=user, data=TokenCreate(name="laptop"))
    db.commit()
    token = _token(_send(db, mail_settings, user).url)
    links.set_password_with_link(session=db, token=token, password=NEW_PASSWORD)
    db.commit()
    assert rows(db, UserSession, user_id=user.id) == []
    assert all(t.revoked_at is not None for t in rows(db, ApiToken, user_id=user.id))
    with pytest.raises(Unauthorized):
        accounts.authenticate(session=db, email=user.email, password=PASSWORD)


def test_a_refused_password_leaves_the_link_working(db, make_user, mail_settings):
    user = make_user("agent")
    token = _token(_send(db, mail_settings, user).url)
    with pytest.raises(ValidationFailed, match="at least 8 characters"):
        links.set_password_with_link(session=db, token=token, password="short")
    db.rollback()
    links.set_password_with_link(session=db, token=token, password=NEW_PASSWORD)


@pytest.mark.parametrize("token", ["", "kbp_nonsense", "x" * 5000])
def test_unknown_tokens_are_gone(db, token):
    with pytest.raises(Gone):
        links.pending_link(session=db, token=token)


def test_only_administrators_send_links_and_only_to_active_accounts(db, make_user, mail_settings):
    agent = make_user("agent")
    other = make_user("agent")
    with pytest.raises(Forbidden):
        links.send_link(session=db, actor=agent, user=other, settings=mail_settings)
    admin = make_user("admin")
    accounts.deactivate_user(session=db, actor=admin, user=other)
    with pytest.raises(Conflict, match="deactivated"):
        links.send_link(session=db, actor=admin, user=other, settings=mail_settings)


def _admin_page(db, admin):
    """The audit trail's administrative changes, newest first, as the admin's audit page lists them."""
    return audit_trail.audit_page(session=db, actor=admin, filters=audit_trail.AuditFilter(kind="admin")).rows


def test_the_administrators_action_is_in_the_audit_trail(db, make_user, mail_settings):
    admin = make_user("admin")
    user = make_user("agent")
    _send(db, mail_settings, user, actor=admin)
    events = [(row.event.action, row.event.target) for row in _admin_page(db, admin)]
    assert ("user.password_link.reset", user.email) in events
    links.set_password_with_link(session=db, token=_token(_send(db, mail_settings, user, actor=admin).url),
                                 password=NEW_PASSWORD)
    db.commit()
    latest = _admin_page(db, admin)[0].event
    assert latest.action == "user.password" and "Reset with an emailed link" in latest.comment


def test_forgot_password_emails_a_reset_link_to_an_existing_account(db, make_user, sink, mail_settings):
    user = make_user("agent")
    links.request_reset(session=db, email=user.email.upper(), ip="10.0.0.1", settings=mail_settings)
    db.commit()
    (mail,) = sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == user.email
    assert "new password" in mail["Subject"]
    links.set_password_with_link(session=db, token=_token(link_in(mail)), password=NEW_PASSWORD)


def test_forgot_password_for_an_unknown_or_deactivated_account_sends_nothing(db, make_user, sink, mail_settings):
    admin = make_user("admin")
    gone = make_user("agent")
    accounts.deactivate_user(session=db, actor=admin, user=gone)
    db.commit()
    for email in ("nobody@example.com", gone.email):
        links.request_reset(session=db, email=email, ip="10.0.0.1", settings=mail_settings)  # no error either
        db.commit()
    wait_until_sent()
    assert sink.messages == [] and rows(db, PasswordLink) == []


def test_forgot_password_is_rate_limited(db, make_user, sink, mail_settings):
    user = make_user("agent")
    for _ in range(links.REQUESTS_PER_EMAIL + 2):
        links.request_reset(session=db, email=user.email, ip="10.0.0.2", settings=mail_settings)
        db.commit()
    sink.wait_for(links.REQUESTS_PER_EMAIL)
    assert len(sink.messages) == links.REQUESTS_PER_EMAIL  # the extra ones are dropped without a word
    for i in range(links.REQUESTS_PER_ADDRESS - links.REQUESTS_PER_EMAIL - 2):
        links.request_reset(session=db, email=f"other{i}@example.com", ip="10.0.0.2", settings=mail_settings)
    with pytest.raises(Throttled, match="Too many requests"):
        links.request_reset(session=db, email="one-more@example.com", ip="10.0.0.2", settings=mail_settings)
    with travel(utcnow() + timedelta(minutes=links.REQUEST_WINDOW_MINUTES + 1)):
        links.request_reset(session=db, email="later@example.com", ip="10.0.0.2", settings=mail_settings)


def test_a_link_rolled_back_is_never_emailed(db, make_user, sink, mail_settings):
    user = make_user("agent")
    with pytest.raises(RuntimeError):
        with db.begin_nested():
            links.send_link(session=db, actor=SYSTEM, user=user, settings=mail_settings)
            raise RuntimeError("something after it failed")
    kept = links.send_link(session=db, actor=SYSTEM, user=user, settings=mail_settings, purpose=links.INVITE)
    db.commit()
    (mail,) = sink.wait_for(1)
    assert link_in(mail) == kept.url
    with db.begin_nested():  # a savepoint released, then the whole transaction rolled back
        links.send_link(session=db, actor=SYSTEM, user=user, settings=mail_settings)
    wait_until_sent()
    assert len(sink.messages) == 1
    db.rollback()
    wait_until_sent()
    assert len(sink.messages) == 1


def test_without_a_mail_server_the_link_is_given_to_whoever_made_it(db, make_user, settings):
    user = make_user("agent")
    issued = _send(db, settings, user)  # no KB_SMTP_URL
    assert not issued.emailed
    links.pending_link(session=db, token=_token(issued.url))


def test_an_invited_account_has_no_password_until_the_link_is_used(db, make_user, mail_settings):
    admin = make_user("admin")
    issued = links.invite_user(session=db, actor=admin, settings=mail_settings, data=UserCreate(
        email="later@example.com", display_name="Later", roles=["author"], password="ignored-password"))
    db.commit()
    assert db.exec(select(User.password_hash).where(User.id == issued.user.id)).one() is None
