"""Request bodies: a size limit on every route, counted as the bytes arrive, and API callers
authenticated before their body is read.

FastAPI reads and parses a body before it resolves dependencies (the API token among them), so
without this an anonymous 300 MB JSON body was read, parsed and held in memory (250 MB -> 1 GB
RSS) before the 401. Uploads have their own, larger limit (the attachment size limit)."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.accounts import service as accounts
from kb.content import attachments
from kb.markdown import MAX_BODY_CHARS
from web.deps import BAD_TOKEN, NO_TOKEN
from web.errors import error_response

# The largest legitimate body that is not an upload: a Markdown text at its limit, every character
# percent-encoded from four UTF-8 bytes (12 bytes each), plus room for the other fields.
MAX_REQUEST_BYTES = MAX_BODY_CHARS * 12 + 256 * 1024
# Room for the multipart boundaries, part headers and small fields around an uploaded file.
UPLOAD_ENVELOPE_BYTES = 64 * 1024
UPLOAD_PATHS = re.compile(r"/attachments|/api/v1/entries/[^/]+/attachments")

TOO_LARGE = (f"The request is too large (the limit is {MAX_REQUEST_BYTES // (1024 * 1024)} MB). Shorten the "
             f"text (a text can have at most {MAX_BODY_CHARS:,} characters) and send it again.")


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit: FastAPI re-raises HTTP exceptions met
    while reading a body, so web.errors answers it like any other 413."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


def _limit(scope: Scope) -> tuple[int, str]:
    """The byte limit for this request's body, and the sentence that refuses a larger one."""
    if scope["method"] == "POST" and UPLOAD_PATHS.fullmatch(scope["path"]):
        max_bytes = scope["app"].state.settings.max_upload_mb * 1024 * 1024
        return max_bytes + UPLOAD_ENVELOPE_BYTES, attachments.too_large(max_bytes).message
    return MAX_REQUEST_BYTES, TOO_LARGE


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers


def _token_user_exists(app, raw: str) -> bool:
    with app.state.sessionmaker() as session:
        return accounts.user_for_api_token(session=session, raw=raw) is not None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, message = _limit(scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, 413, message)
            return
        if scope["path"].startswith("/api/") and _has_body(headers):
            refusal = await self._unauthenticated(scope, headers)
            if refusal:
                await self._refuse(scope, receive, send, 401, refusal, {"WWW-Authenticate": "Bearer"})
                return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:  # chunked bodies have no Content-Length: count as they arrive
                    raise RequestTooLarge(message)
            return event

        async def tracked_send(event: Message) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except RequestTooLarge:  # raised where no exception handler runs (a middleware read the body)
            if started:
                raise
            await self._refuse(scope, receive, send, 413, message)

    async def _unauthenticated(self, scope: Scope, headers: Headers) -> str | None:
        """Why this API request is refused before its body is read, or None when its token is valid."""
        scheme, _, raw = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return NO_TOKEN
        valid = await run_in_threadpool(_token_user_exists, scope["app"], raw.strip())
        return None if valid else BAD_TOKEN

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str,
                      headers: dict | None = None) -> None:
        request = Request(scope, receive)
        response = error_response(request, status, message, headers=headers)
        response.headers["connection"] = "close"  # the unread body must not be taken for the next request
        await response(scope, receive, send)
