"""One-time form tokens: a form that creates something posts it once.

A page puts a signed token into each form that creates an entry (``web.forms.form_token``). The
first post that succeeds records the token here, with the entry it created, in the same
transaction as the entry; a second post with the same token (Back and Post again, a double click,
a retried request) gets that entry back instead of a copy. A refused post records nothing, so the
form can be corrected and sent again with the same token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content.models import Entry, FormSubmission
from kb.errors import Conflict

# A form older than this is refused (the page is reloaded); used tokens are kept as long.
TOKEN_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Submitted:
    entry: Entry
    # True when this post repeated an earlier one: ``entry`` is what the first post created.
    replayed: bool


def submit_once(*, session: Session, actor: User, token: str | None, purpose: str,
                create: Callable[[], Entry]) -> Submitted:
    """``create()`` unless a post with ``token`` already created something; without a token (the
    API, an old page) every post creates."""
    if not token:
        return Submitted(entry=create(), replayed=False)
    earlier = _earlier(session, actor, token, purpose)
    if earlier is not None:
        return earlier
    record = FormSubmission(token=token, user_id=actor.id, purpose=purpose)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # the same form posted twice at once: the other post created it
        earlier = _earlier(session, actor, token, purpose)
        if earlier is not None:
            return earlier
        raise Conflict("This form was just sent; reload the page to see what it created.") from None
    entry = create()
    record.entry_id = entry.id
    session.add(record)
    session.flush()
    return Submitted(entry=entry, replayed=False)


def _earlier(session: Session, actor: User, token: str, purpose: str) -> Submitted | None:
    record = session.get(FormSubmission, token, populate_existing=True)
    if record is None:
        return None
    if record.user_id != actor.id or record.purpose != purpose or record.entry_id is None:
        raise Conflict("This form was already sent. Reload the page and try again.")
    return Submitted(entry=session.get(Entry, record.entry_id), replayed=True)


def forget_used_tokens(*, session: Session, now: datetime | None = None) -> int:
    """Drop records of tokens too old to be accepted anyway; returns how many."""
    cutoff = (now or utcnow()) - TOKEN_LIFETIME - timedelta(days=1)
    return session.exec(delete(FormSubmission).where(FormSubmission.created_at < cutoff)).rowcount
