"""Security and caching headers on every response."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.csrf import SESSION_COOKIE
from web.framing import frame_ancestors, is_panel_path

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# ReDoc (the API docs page) injects its own <style> elements and runs a web worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATH = "/api/v1/docs"
# Pages answer htmx requests (the HX-Request header) with a fragment and others with the whole
# page, at the same address: caches must keep them apart, or Back shows a bare fragment.
VARY_ON = "HX-Request"
# A signed-in user's pages are never stored: after "Sign out" on a shared desk, Back must not
# show them. Other pages may be kept, but are checked with the server before each use.
SIGNED_IN_CACHE = "no-store"
ANONYMOUS_CACHE = "no-cache"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, panel_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.hsts = hsts
        # The helpdesk side panel may be framed by these origins (none: by no one, like every page).
        self.panel_origins = panel_origins
        self.panel_csp = frame_ancestors(CSP, panel_origins) if panel_origins else CSP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framed = bool(self.panel_origins) and is_panel_path(scope["path"])
        csp = DOCS_CSP if scope["path"] == DOCS_PATH else self.panel_csp if framed else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", csp)
                headers["x-content-type-options"] = "nosniff"
                if not framed:  # X-Frame-Options cannot name origins; frame-ancestors (above) does
                    headers["x-frame-options"] = "DENY"
                headers["referrer-policy"] = "same-origin"
                headers["permissions-policy"] = "camera=(), microphone=(), geolocation=()"
                headers["cross-origin-opener-policy"] = "same-origin"
                if self.hsts:
                    headers["strict-transport-security"] = "max-age=31536000"
                _cache_headers(scope, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _signed_in(scope: Scope) -> bool:
    """The request came from a signed-in user (as the page dependencies found), or carried a
    session cookie (pages that do not look the user up)."""
    if (scope.get("state") or {}).get("user"):
        return True
    cookies = "; ".join(value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"cookie")
    return bool(cookies) and SESSION_COOKIE in cookie_parser(cookies)


def _cache_headers(scope: Scope, headers: MutableHeaders) -> None:
    path = scope["path"]
    if path.startswith("/static/"):
        return
    if VARY_ON.lower() not in headers.get("vary", "").lower():
        headers.add_vary_header(VARY_ON)
    if "cache-control" in headers or not headers.get("content-type", "").startswith("text/html"):
        return
    headers["cache-control"] = SIGNED_IN_CACHE if _signed_in(scope) else ANONYMOUS_CACHE
