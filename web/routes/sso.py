"""Single sign-on: leave for the identity provider, come back signed in (``web.oidc``, ``kb.accounts.sso``)."""

from __future__ import annotations

import logging

from authlib.common.errors import AuthlibBaseError
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from kb.accounts import service as accounts
from kb.accounts import sso
from kb.db import unit_of_work
from kb.errors import DomainError, Forbidden, NotFound
from web.deps import session_token
from web.oidc import PATH, TRANSPORT_ERRORS, callback_url
from web.routes.auth import safe_next, with_session_cookie

log = logging.getLogger("kb.web.sso")
router = APIRouter(prefix=PATH)

NOT_SET_UP = "Single sign-on is not set up on this kb. Sign in with your email and password."
UNREACHABLE = ("kb could not reach your identity provider to sign you in. Try again in a minute; if it keeps "
               "happening, tell a kb administrator.")
DENIED = "You did not allow kb to sign you in at your identity provider, so you are not signed in."
REFUSED = "Your identity provider did not sign you in ({error}). Try again, or ask its administrator."
STALE = ("This sign-in could not be finished: it was started in another browser, took longer than ten minutes, "
         "or was already used. Start again from the sign-in page.")
NO_ID_TOKEN = "Your identity provider did not say who you are (no ID token). Tell a kb administrator."


class ProviderUnavailable(DomainError):
    """The identity provider did not answer, or not as OpenID Connect says: the gateway's fault."""

    status_code = 502


def _client(request: Request):
    client = request.app.state.oidc
    if client is None:
        raise NotFound(NOT_SET_UP)
    return client


@router.get("/login", include_in_schema=False)
async def sso_login(request: Request, next: str = "/"):
    """Off to the identity provider, with a new state, nonce and PKCE challenge (Authlib)."""
    client = _client(request)
    request.session["next"] = safe_next(next[:500])
    try:
        return await client.authorize_redirect(request, callback_url(request.app.state.settings))
    except (*TRANSPORT_ERRORS, ValueError, RuntimeError, AuthlibBaseError) as exc:
        log.warning("identity provider discovery failed: %s", exc)
        raise ProviderUnavailable(UNREACHABLE) from None


@router.get("/callback", include_in_schema=False)
async def sso_callback(request: Request):
    client = _client(request)
    settings = request.app.state.settings
    error = request.query_params.get("error")
    if error:
        request.session.clear()
        if error == "access_denied":
            raise Forbidden(DENIED)
        raise Forbidden(REFUSED.format(error=error[:60]))
    try:
        token = await client.authorize_access_token(request)
    except TRANSPORT_ERRORS as exc:
        log.warning("identity provider token request failed: %s", exc)
        raise ProviderUnavailable(UNREACHABLE) from None
    except (AuthlibBaseError, JoseError, ValueError) as exc:
        # A state that is not this browser's, an unknown or used code, an ID token that does not validate.
        log.warning("single sign-on refused: %s", exc)
        raise DomainError(STALE) from None
    userinfo = token.get("userinfo")
    if not userinfo:
        raise DomainError(NO_ID_TOKEN)
    claims = sso.ProviderClaims.from_id_token(userinfo, roles_claim=settings.oidc_roles_claim)
    next_url = safe_next(request.session.pop("next", "/"))
    session_cookie = await run_in_threadpool(_sign_in, request, claims)
    return with_session_cookie(RedirectResponse(next_url, status_code=303), settings, session_cookie)


def _sign_in(request: Request, claims: sso.ProviderClaims) -> str:
    """The kb user of these claims, and a new session for them, exactly as a password sign-in starts one.
    A GET that writes: its own writing transaction (``kb.db.unit_of_work``), rolled back when refused."""
    settings = request.app.state.settings
    with unit_of_work(request.app.state.engine) as session:
        user = sso.sign_in(session=session, claims=claims, settings=settings)
        return accounts.start_session(session=session, user=user, max_age_hours=settings.session_max_age_hours,
                                      user_agent=request.headers.get("user-agent", ""),
                                      replaces=session_token(request))

