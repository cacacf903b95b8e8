"""CSRF protection for every unsafe browser request.

A per-browser random seed cookie plus the session cookie are bound into an HMAC token that every
form carries (field ``csrf_token``) and htmx sends as the ``X-CSRF-Token`` header. The token
changes at sign-in and sign-out because the session cookie does. ``/api/`` is exempt: it only
accepts bearer tokens, which browsers never attach on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.framing import EMBEDDED_COOKIE_FLAGS, is_panel_path

SEED_COOKIE = "kb_csrf"
SESSION_COOKIE = "kb_session"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
REFUSED = "This form has expired or did not come from kb. Reload the page and try again."


def expected_token(secret: str, seed: str, session_cookie: str) -> str:
    message = f"{seed}|{session_cookie}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_for(request: Request) -> str:
    """The token that forms on this page must send back."""
    seed = request.scope.get("state", {}).get("csrf_seed", "")
    session_cookie = request.cookies.get(SESSION_COOKIE, "")
    return expected_token(request.app.state.settings.secret_key, seed, session_cookie)


def _cookies(scope: Scope) -> dict[str, str]:
    raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header is treated as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, secret_key: str, secure: bool, max_body: int, embedded_panel: bool = False) -> None:
        self.app = app
        self.secret_key = secret_key
        self.secure = secure
        self.max_body = max_body
        # The side panel may be framed by a helpdesk (web.framing): its pages set the seed so that
        # the browser keeps it inside the frame.
        self.embedded_panel = embedded_panel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        seed = cookies.get(SEED_COOKIE)
        new_seed = None
        if not seed or len(seed) > 100:
            seed = new_seed = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_seed"] = seed

        if scope["method"] not in SAFE_METHODS and not scope["path"].startswith("/api/"):
            try:
                receive, ok = await self._check(scope, receive, seed, cookies.get(SESSION_COOKIE, ""))
            except _TooLarge:
                limit = self.max_body // (1024 * 1024) - 1
                response = _refusal(scope, 413, f"The upload is too large. Files can be at most {limit} MB.")
                await response(scope, receive, send)
                return
            if not ok:
                response = _refusal(scope)
                await response(scope, receive, send)
                return

        async def send_with_seed(message: Message) -> None:
            if message["type"] == "http.response.start" and new_seed:
                headers = MutableHeaders(scope=message)
                if self.embedded_panel and is_panel_path(scope["path"]):
                    flags = EMBEDDED_COOKIE_FLAGS
                else:
                    flags = "; HttpOnly; SameSite=Lax; Path=/" + ("; Secure" if self.secure else "")
                headers.append("set-cookie", f"{SEED_COOKIE}={new_seed}{flags}")
            await send(message)

        await self.app(scope, receive, send_with_seed)

    async def _check(self, scope: Scope, receive: Receive, seed: str, session_cookie: str):
        """Read the body once, look for the token, and hand the same body on to the app."""
        headers = dict(scope.get("headers", []))
        supplied = headers.get(HEADER.encode(), b"").decode("latin-1")
        expected = expected_token(self.secret_key, seed, session_cookie)
        if supplied:
            return receive, hmac.compare_digest(supplied, expected)
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        declared = int(headers.get(b"content-length", b"0") or 0)
        if declared > self.max_body:
            raise _TooLarge()
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body:  # a chunked body without Content-Length
                raise _TooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        supplied = ""
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            probe_sent = False

            async def probe() -> Message:
                nonlocal probe_sent
                if probe_sent:
                    return {"type": "http.disconnect"}
                probe_sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            try:
                form = await Request(scope, probe).form(max_files=50, max_fields=2000)
                value = form.get(FORM_FIELD)
                supplied = value if isinstance(value, str) else ""
                await form.close()
            except Exception:
                supplied = ""
        return replay, bool(supplied) and hmac.compare_digest(supplied, expected)


class _TooLarge(Exception):
    pass


def _refusal(scope: Scope, status: int = 403, message: str = REFUSED):
    accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
    if "text/html" in accept:
        return HTMLResponse(
            "<!doctype html><title>Refused</title><link rel=stylesheet href=/static/kb.css>"
            f"<main class='container error-page'><p class=status>{status}</p><p>{message}</p>"
            "<p><a href='/'>Back to kb</a></p></main>",
            status_code=status,
        )
    return JSONResponse({"detail": message}, status_code=status)
