"""Form posts from pages: run the service call; when it refuses the input, show the form again
with the reason next to the field and the values as typed, with the status that says why."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.requests import Request

from kb.content.submissions import TOKEN_LIFETIME
from kb.errors import Conflict, DomainError, ValidationFailed
from kb.messages import validation_messages

T = TypeVar("T")
# (errors by field name, "form" for the form as a whole; HTTP status) -> the form shown again
ShowForm = Callable[[dict[str, str], int], Response]


def form_errors(exc: DomainError | ValidationError) -> dict[str, str]:
    """One sentence per field: every invalid field of a request model, or the domain error's."""
    if isinstance(exc, ValidationError):
        return validation_messages(exc.errors())
    return {exc.field or "form": exc.message}


def submit_form(change: Callable[[], T], *, done: Callable[[T], Response], show_form: ShowForm,
                session: Session | None = None,
                on_conflict: Callable[[Conflict], Response] | None = None) -> Response:
    """``done(change())``, or the form again: ``show_form(errors, status)`` with 422 for input the
    request models refuse and the domain error's own status otherwise (``on_conflict`` answers a
    Conflict instead, e.g. with both versions). With ``session``, the change runs in a savepoint,
    so a refused change leaves nothing half-done in the request's unit of work."""
    try:
        if session is None:
            result = change()
        else:
            with session.begin_nested():
                result = change()
    except ValidationError as exc:
        return show_form(form_errors(exc), 422)
    except Conflict as exc:
        if on_conflict is None:
            return show_form(form_errors(exc), exc.status_code)
        return on_conflict(exc)
    except DomainError as exc:
        return show_form(form_errors(exc), exc.status_code)
    return done(result)


# --- one-time form tokens (kb.content.submissions) ---------------------------------------------
# A form that creates something carries ``form_token`` (a hidden field of that name). It is signed
# for the signed-in user and the form's purpose ("question", "answer:12", ...), so it is issued
# without writing anything; the first post that succeeds records it.

FORM_TOKEN_FIELD = "form_token"
EXPIRED = "This form is more than a week old. Reload the page and send it again."
FOREIGN = "This form was opened by someone else or did not come from kb. Reload the page and send it again."


def _signature(request: Request, user_id: int, purpose: str, issued: int, nonce: str) -> str:
    key = request.app.state.settings.secret_key.encode()
    return hmac.new(key, f"form|{user_id}|{purpose}|{issued}|{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def form_token(request: Request, purpose: str) -> str:
    """A fresh token for a form of ``purpose`` on this page (a Jinja global)."""
    user_id = getattr(getattr(request.state, "user", None), "id", 0) or 0
    issued, nonce = int(time.time()), secrets.token_urlsafe(12)
    return f"{issued}.{nonce}.{_signature(request, user_id, purpose, issued, nonce)}"


def used_form_token(request: Request, *, user_id: int, token: str, purpose: str) -> str | None:
    """The token's id for ``kb.content.submissions.submit_once``; None when the post carries none
    (a client that is not a kb page). A token of another user or form, forged or too old is refused."""
    token = token.removeprefix("~")  # marked by form-once.js so that Back restores it
    if not token:
        return None
    issued, _, rest = token.partition(".")
    nonce, _, signature = rest.partition(".")
    if not (issued.isdigit() and nonce and len(token) <= 100):
        raise ValidationFailed(FOREIGN)
    if not hmac.compare_digest(signature, _signature(request, user_id, purpose, int(issued), nonce)):
        raise ValidationFailed(FOREIGN)
    if time.time() - int(issued) > TOKEN_LIFETIME.total_seconds():
        raise ValidationFailed(EXPIRED)
    return nonce
