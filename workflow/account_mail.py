"""Emails with a link to set a password (invitations and resets), sent once the link is committed.

``kb.accounts.password_links`` publishes ``PASSWORD_LINK_REQUESTED`` with the link. Its token
lives only in that event (kb keeps a hash), so the email cannot wait in a table for the periodic
mailer: it is composed during the transaction, kept on the session, and handed to a thread of its
own after the commit. So a link that was rolled back is never sent, a slow mail server never holds
a request up, and "forgot password" answers no slower for an address that has an account.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from kb.accounts.models import User
from kb.clock import utcnow
from kb.events import PASSWORD_LINK_REQUESTED, Event, subscribe
from kb.settings import Settings
from workflow import mailer

log = logging.getLogger("kb.mailer")

_PENDING = "kb.password_link_mails"
_senders: set[threading.Thread] = set()
_senders_lock = threading.Lock()


@dataclass(frozen=True)
class _Mail:
    settings: Settings
    name: str
    address: str
    purpose: str
    url: str
    expires_at: datetime
    transaction: object  # the (innermost) transaction that made the link: rolled back, the mail is dropped


def _on_link(session: Session, event: Event) -> None:
    settings: Settings = event.data["settings"]
    user = session.get(User, event.data["user_id"])
    if not settings.smtp_url:
        log.warning("The password link for %s is not emailed: KB_SMTP_URL is not set. An administrator "
                    "can send one from the user's page and pass it on.", user.email)
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append(_Mail(
        settings=settings, name=user.display_name, address=user.email, purpose=event.data["purpose"],
        url=event.data["url"], expires_at=event.data["expires_at"], transaction=transaction))


def _after_commit(session: OrmSession) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released (SQLAlchemy calls this hook for those too): wait for the commit
    mails = session.info.pop(_PENDING, None)
    if mails:
        # Not a daemon: a command (``kb user create --invite``) waits for its email before it exits.
        thread = threading.Thread(target=_send_all, args=(mails,), name="kb-password-link-mail")
        with _senders_lock:
            _senders.add(thread)
        thread.start()


def _after_soft_rollback(session: OrmSession, previous_transaction) -> None:
    """Drop the mails of links made inside the transaction (or savepoint) that was rolled back."""
    mails = session.info.get(_PENDING)
    if mails:
        session.info[_PENDING] = [m for m in mails if not _inside(m.transaction, previous_transaction)]


def _inside(transaction, outer) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _send_all(mails: list[_Mail]) -> None:
    try:
        for mail in mails:
            if mailer.send_one(mail.settings, partial(_compose, mail)):
                log.info("Emailed a password link (%s) to %s.", mail.purpose, mail.address)
    finally:
        with _senders_lock:
            _senders.discard(threading.current_thread())


def wait_until_sent(timeout: float = 30) -> None:
    """Wait for the password-link emails this process is still sending (tests, the command line)."""
    with _senders_lock:
        threads = list(_senders)
    for thread in threads:
        thread.join(timeout)


def _compose(mail: _Mail):
    until = f"{mail.expires_at:%d %B %Y at %H:%M} UTC"
    if mail.purpose == "invite":
        subject = "[kb] You are invited to kb: choose your password"
        body = (f"Hello {mail.name},\n\n"
                f"An account was made for you in kb, the knowledge base. To start, choose your password:\n\n"
                f"{mail.url}\n\n"
                f"The link works once, until {until}. You then sign in with your email address, {mail.address}.\n"
                f"If the link has expired, ask for a new one with \"Forgot your password?\" on the sign-in page.\n")
    else:
        subject = "[kb] Set a new password for kb"
        body = (f"Hello {mail.name},\n\n"
                f"Someone (you, or an administrator of kb) asked for a link to set a new password for your kb "
                f"account, {mail.address}:\n\n"
                f"{mail.url}\n\n"
                f"The link works once, until {until}. Setting a new password signs you out everywhere else.\n"
                f"If you did not ask for it, you can ignore this email: your password stays as it is.\n")
    return mailer.email_message(mail.settings, name=mail.name, address=mail.address, subject=subject, body=body,
                                now=utcnow())


def register() -> None:
    """Email password links once their transaction commits (idempotent)."""
    subscribe(PASSWORD_LINK_REQUESTED, _on_link)
    if not sa_event.contains(OrmSession, "after_commit", _after_commit):
        sa_event.listen(OrmSession, "after_commit", _after_commit)
        sa_event.listen(OrmSession, "after_soft_rollback", _after_soft_rollback)
