"""One mapping from domain errors to HTTP: JSON under /api/, HTML pages elsewhere."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.errors import DomainError, SearchUnavailable, Throttled
from kb.messages import validation_messages
from web.deps import LoginRequired
from web.templating import render

log = logging.getLogger("kb.web")

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported file type",
    422: "Please check your input",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
BUSY = ("kb is busy with other changes right now, so nothing was saved. Try again in a moment; "
        "your text is still in the form.")
# PostgreSQL: deadlock detected, serialization failure, lock not available (a lock timeout).
_BUSY_SQLSTATES = {"40P01", "40001", "55P03"}


def database_busy(exc: OperationalError) -> bool:
    """A write that lost a race for a lock (SQLite: the write lock after its busy timeout;
    PostgreSQL: a deadlock or lock timeout): its transaction was rolled back, nothing is half-written,
    and the same request succeeds when tried again."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _BUSY_SQLSTATES:
        return True
    return str(exc.orig).startswith(("database is locked", "database is busy"))


class ErrorPublic(BaseModel):
    """Every error the API answers (4xx, 5xx) has this body."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    detail: str = Field(description="What went wrong, as a sentence that says what to do next.")
    field: str | None = Field(default=None, description="The request field the error is about, when there is one.")
    errors: dict[str, str] | None = Field(default=None, description="422 only: one sentence per invalid field.")


def error_doc(description: str) -> dict:
    """An error response for a route's ``responses``: its description, with the one error model."""
    return {"description": description, "model": ErrorPublic}


# Documented once for every API route (409 bodies may add the ids to look at, e.g. latest_revision_id).
API_ERROR_RESPONSES = {
    400: error_doc("The request cannot be carried out as sent."),
    401: error_doc("No API token, or one that is unknown, revoked or of a deactivated user."),
    403: error_doc("Your roles do not allow this."),
    404: error_doc("Nothing with this id exists, or you may not see it."),
    409: error_doc("The state of the data does not allow this now (another edit or transition came first)."),
    413: error_doc("The request body, text or file is over its size limit."),
    422: error_doc("Some input is invalid; `errors` names each field with a sentence."),
}
OUT_OF_RANGE = "A number or date in this request is out of range. Check the address or the form and try again."
NO_SUCH_ADDRESS = "There is nothing at this address. Check the link, or start again from the home page."


def _not_an_address(errors: list[dict]) -> bool:
    """A part of the path that is not even of the right kind (``/articles/abc``): no such page,
    rather than a form error about an "input" the person never typed."""
    return any(e.get("loc", ("",))[0] == "path" and str(e.get("type", "")).endswith(("_parsing", "_type"))
               for e in errors)


def wants_json(request: Request) -> bool:
    """The API, the health check, and page scripts that ask for JSON (autosave, uploads) get JSON errors."""
    accept = request.headers.get("accept", "")
    return (request.url.path.startswith("/api/") or request.url.path == "/healthz"
            or ("application/json" in accept and "text/html" not in accept))


def error_response(request: Request, status_code: int, message: str, *, field: str | None = None, headers=None,
                   details: dict | None = None):
    if wants_json(request):
        body = {"detail": message}
        if field:
            body["field"] = field
        body.update(details or {})
        return JSONResponse(body, status_code=status_code, headers=headers)
    context = {"status_code": status_code, "title": TITLES.get(status_code, "Error"), "message": message}
    response = render(request, "error.html", context, status_code=status_code)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def page_without_search(request: Request, template: str, context: dict) -> None:
    """The page this request shows if search turns out to be down: ``template`` with ``context``
    and ``unavailable`` set, as a normal page (status 200) whose template says search is catching
    up; the rest of the page still works. Declared before searching; ``SearchUnavailable`` is then
    answered with it (JSON requests get the 503 all the same). The context must not need the
    request's database session, which is closed by then."""
    request.state.page_without_search = (template, context)


def install(app: FastAPI) -> None:
    @app.exception_handler(SearchUnavailable)
    async def _search_unavailable(request: Request, exc: SearchUnavailable):
        page = getattr(request.state, "page_without_search", None)
        if page is None or wants_json(request):
            return error_response(request, exc.status_code, exc.message)
        template, context = page
        return render(request, template, {**context, "unavailable": True})

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        return error_response(request, exc.status_code, exc.message, field=exc.field, headers=headers,
                              details=exc.details)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError):
        if _not_an_address(list(exc.errors())):
            return error_response(request, 404, NO_SUCH_ADDRESS)
        messages = validation_messages(list(exc.errors()))
        if wants_json(request):
            return JSONResponse({"detail": " ".join(messages.values()), "errors": messages}, status_code=422)
        return error_response(request, 422, " ".join(messages.values()))

    @app.exception_handler(ValidationError)
    async def _model_validation(request: Request, exc: ValidationError):
        messages = validation_messages(list(exc.errors()))
        if wants_json(request):
            return JSONResponse({"detail": " ".join(messages.values()), "errors": messages}, status_code=422)
        return error_response(request, 422, " ".join(messages.values()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and message == "Not Found":
            message = NO_SUCH_ADDRESS
        return error_response(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)  # an id past 2**63 (SQLite), a date past year 9999
    async def _overflow(request: Request, exc: OverflowError):
        return error_response(request, 422, OUT_OF_RANGE)

    @app.exception_handler(DataError)  # a value the database refuses (an id past PostgreSQL's INTEGER)
    async def _data(request: Request, exc: DataError):
        log.warning("input refused by the database on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(request, 422, OUT_OF_RANGE)

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError):
        if not database_busy(exc):
            return await _unexpected(request, exc)
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(request, 503, BUSY, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "An unexpected error happened; it has been logged. Try again in a moment.")
