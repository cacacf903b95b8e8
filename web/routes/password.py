"""Setting a password with an emailed link (invitations, resets), and asking for a reset link."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts import password_links as links
from kb.accounts.schemas import MIN_PASSWORD_LENGTH
from kb.errors import Gone, Throttled, ValidationFailed
from web.deps import SessionDep, SettingsDep
from web.forms import submit_form
from web.routes.auth import refuse_passwords_when_off
from web.templating import render


def _passwords_on(settings: SettingsDep) -> None:
    refuse_passwords_when_off(settings)


router = APIRouter(prefix="/password", dependencies=[Depends(_passwords_on)])

TOKEN_FIELD = Annotated[str, Form(max_length=links.MAX_TOKEN_CHARS)]
PASSWORD_FIELD = Annotated[str, Form(max_length=200)]
DIFFERENT = "The two passwords are not the same. Type the same password twice."


def _no_store(response):
    # The page carries the link's token: keep it out of the browser's cache and history snapshots.
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_valid(request: Request, exc: Gone):
    return _no_store(render(request, "password_link_invalid.html", {"message": exc.message},
                            status_code=exc.status_code))


def _set_page(request: Request, pending: links.PendingLink, token: str, *, errors=None, status_code=200):
    context = {"pending": pending, "token": token, "errors": errors or {}, "invite": pending.purpose == links.INVITE,
               "min_length": MIN_PASSWORD_LENGTH}
    return _no_store(render(request, "password_set.html", context, status_code=status_code))


@router.get("/set", include_in_schema=False)
def set_form(request: Request, session: SessionDep, token: str = ""):
    # Any token at all: one that is not a link's (too long, unknown) gets the page that says so.
    try:
        pending = links.pending_link(session=session, token=token)
    except Gone as exc:
        return _not_valid(request, exc)
    return _set_page(request, pending, token)


@router.post("/set", include_in_schema=False)
def set_password(request: Request, session: SessionDep, token: TOKEN_FIELD = "", password: PASSWORD_FIELD = "",
                 password_again: PASSWORD_FIELD = ""):
    try:
        pending = links.pending_link(session=session, token=token)
    except Gone as exc:
        return _not_valid(request, exc)

    def change():
        if password != password_again:
            raise ValidationFailed(DIFFERENT, field="password_again")
        return links.set_password_with_link(session=session, token=token, password=password)

    def show_form(errors, status):
        if status == Gone.status_code:  # used up by a request that came first
            return _not_valid(request, Gone(errors.get("form", links.NOT_VALID)))
        return _set_page(request, pending, token, errors=errors, status_code=status)

    return submit_form(
        change,
        done=lambda user: RedirectResponse("/login?" + urlencode({"done": "password", "email": user.email}),
                                           status_code=303),
        show_form=show_form, session=session)


def _forgot_page(request: Request, settings, *, email="", sent=False, errors=None, status_code=200):
    context = {"email": email, "sent": sent, "errors": errors or {}, "email_configured": bool(settings.smtp_url),
               "reset_hours": settings.password_reset_hours}
    return render(request, "password_forgot.html", context, status_code=status_code)


@router.get("/forgot", include_in_schema=False)
def forgot_form(request: Request, settings: SettingsDep, email: str = ""):
    return _forgot_page(request, settings, email=email[:254])


@router.post("/forgot", include_in_schema=False)
def forgot(request: Request, session: SessionDep, settings: SettingsDep,
           email: Annotated[str, Form(max_length=254)] = ""):
    if not settings.smtp_url:
        return _forgot_page(request, settings, email=email)
    if not email.strip():
        return _forgot_page(request, settings, errors={"email": "Enter the email address you sign in with."},
                            status_code=422)
    ip = request.client.host if request.client else ""
    try:
        links.request_reset(session=session, email=email, ip=ip, settings=settings)
    except Throttled as exc:
        response = _forgot_page(request, settings, email=email, errors={"form": exc.message}, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # The same answer whether or not the address has an account.
    return _forgot_page(request, settings, email=email, sent=True)
