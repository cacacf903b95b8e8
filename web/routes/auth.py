"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts import service as accounts
from kb.errors import Forbidden, Throttled, Unauthorized
from web.csrf import SESSION_COOKIE
from web.framing import partitioned
from web.deps import OptionalUser, SessionDep, SettingsDep, session_signer, session_token
from web.templating import render

router = APIRouter()


def safe_next(target: str | None) -> str:
    # Only local paths, so the login page cannot be used to send people elsewhere.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


DONE = {"password": "Your password is set. Sign in with it."}
PASSWORDS_OFF = ("Signing in with a password is turned off on this kb: use the single sign-on button on the "
                 "sign-in page.")


def refuse_passwords_when_off(settings) -> None:
    """With ``KB_PASSWORD_LOGIN=off`` kb takes no password and hands out no password link."""
    if not settings.password_login:
        raise Forbidden(PASSWORDS_OFF)


def _login_page(request: Request, settings, *, email="", next_url="/", errors=None, status_code=200, flashes=None):
    context = {"email": email, "next_url": next_url, "errors": errors or {},
               "demo": not settings.is_production and settings.password_login,
               "flashes": flashes or [], "password_login": settings.password_login,
               "sso_label": settings.oidc_button_label if settings.oidc_enabled else None}
    return render(request, "login.html", context, status_code=status_code)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, settings: SettingsDep, user: OptionalUser, next: str = "/", email: str = "",
               done: str = ""):
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    flashes = [{"kind": "success", "text": DONE[done]}] if done in DONE else []
    return _login_page(request, settings, next_url=safe_next(next), email=email[:254], flashes=flashes)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
):
    next_url = safe_next(next)
    if not settings.password_login:
        return _login_page(request, settings, next_url=next_url, errors={"form": PASSWORDS_OFF}, status_code=403)
    try:
        token = sign_in(request, session, settings, email=email, password=password)
    except Throttled as exc:
        response = _login_page(request, settings, email=email, next_url=next_url, errors={"form": exc.message}, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthorized as exc:
        return _login_page(request, settings, email=email, next_url=next_url, errors={"form": exc.message}, status_code=401)
    return with_session_cookie(RedirectResponse(next_url, status_code=303), settings, token)


def sign_in(request: Request, session, settings, *, email: str, password: str) -> str:
    """Check the password (with the lockout after repeated failures) and start a session, replacing
    the browser's current one; returns the new session's token. ``Throttled`` or ``Unauthorized``
    with the sentence to show; ``Forbidden`` when passwords are turned off (single sign-on only)."""
    if not settings.password_login:
        raise Forbidden(PASSWORDS_OFF)
    ip = request.client.host if request.client else ""
    user = accounts.authenticate(
        session=session,
        email=email,
        password=password,
        ip=ip,
        max_failures=settings.login_max_failures,
        lockout_minutes=settings.login_lockout_minutes,
    )
    return accounts.start_session(
        session=session,
        user=user,
        max_age_hours=settings.session_max_age_hours,
        user_agent=request.headers.get("user-agent", ""),
        replaces=session_token(request),
    )


def with_session_cookie(response, settings, token: str, *, embedded: bool = False):
    """Give the browser the signed cookie of a new session. ``embedded``: for the side panel inside
    a helpdesk's frame (``web.framing``), a partitioned cookie the browser keeps there."""
    response.set_cookie(
        SESSION_COOKIE,
        session_signer(settings).sign(token).decode(),
        max_age=settings.session_max_age_hours * 3600,
        httponly=True,
        samesite="none" if embedded else "lax",
        secure=True if embedded else settings.cookies_secure,
        path="/",
    )
    return partitioned(response, SESSION_COOKIE) if embedded else response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: SessionDep, settings: SettingsDep):
    token = session_token(request)
    if token:
        accounts.end_session(session=session, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookies_secure)
    return response
