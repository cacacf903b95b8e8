"""The OpenID Connect client: Authlib's Starlette integration does the protocol.

Authlib reads the provider's discovery document (``KB_OIDC_DISCOVERY_URL``), sends the person to its
authorization endpoint with a random ``state``, a ``nonce`` and a PKCE challenge (S256), exchanges the
code for tokens with the client secret, and validates the ID token: its signature against the
provider's published keys (JWKS, fetched again when a key id is unknown), the algorithms the provider
announces, ``iss`` (the discovery document's issuer), ``aud`` (our client id), ``exp``/``iat`` and the
``nonce``. kb writes none of these checks itself. What the validated claims mean for kb is decided by
``kb.accounts.sso``.

The state, nonce and PKCE verifier live between the two legs in a small signed cookie (Starlette's
``SessionMiddleware``, ``kb_oidc``, limited to ``/auth/oidc`` and ten minutes), so a callback only
works in the browser that started the sign-in.
"""

from __future__ import annotations

import hashlib

import httpx
from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware

from kb.settings import Settings

PATH = "/auth/oidc"
CALLBACK_PATH = f"{PATH}/callback"
STATE_COOKIE = "kb_oidc"
STATE_SECONDS = 600
TIMEOUT_SECONDS = 10
# The provider unreachable or answering with an error status: Authlib uses httpx2 when it is installed
# (the test tools bring it), httpx otherwise.
try:
    import httpx2
except ImportError:  # pragma: no cover - without the test tools
    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError,)
else:
    TRANSPORT_ERRORS = (httpx.HTTPError, httpx2.HTTPError)


def callback_url(settings: Settings) -> str:
    """The redirect URI to register at the provider."""
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def client_for(settings: Settings):
    """Authlib's client for the provider of ``settings`` (None when single sign-on is off). It reads the
    discovery document and the keys on first use, not here: kb starts while the provider is down."""
    if not settings.oidc_enabled:
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    client_kwargs = {"scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": TIMEOUT_SECONDS}
    if not secret:  # a public client: PKCE alone protects the code
        client_kwargs["token_endpoint_auth_method"] = "none"
    return OAuth().register(name="kb", server_metadata_url=settings.oidc_discovery_url,
                            client_id=settings.oidc_client_id, client_secret=secret, client_kwargs=client_kwargs)


def install(app: Starlette, settings: Settings) -> None:
    """Give ``app`` an OpenID Connect client (``app.state.oidc``, None when single sign-on is off)
    and the cookie that carries a sign-in's state between leaving for the provider and coming back."""
    app.state.oidc = client_for(settings)
    if app.state.oidc is None:
        return
    # A key of its own, derived from the secret key: this cookie's signature is no use anywhere else.
    key = hashlib.sha256(f"kb.oidc-state|{settings.secret_key}".encode()).hexdigest()
    app.add_middleware(SessionMiddleware, secret_key=key, session_cookie=STATE_COOKIE, max_age=STATE_SECONDS,
                       path=PATH, same_site="lax", https_only=settings.cookies_secure)
