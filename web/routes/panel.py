"""The helpdesk side panel (``/panel``): a narrow page a helpdesk shows beside a ticket, in a frame.

It takes the ticket's subject, text and id (query parameters, or ``postMessage`` from an allowed
helpdesk origin: ``web/static/panel.js``), shows the best certified answers (the agents' hybrid
search, ``search.service.answers_for_ticket``) with "Copy answer" and "Used to solve this case"
(the ratings routes and services, the ticket id as the case reference), and signs in inside the
frame. Which sites may frame it, and its cookies there: ``web.framing``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from expertise.answer_copy import copy_targets
from expertise.ratings import MAX_CASE_REF
from kb.accounts import service as accounts
from kb.errors import Throttled, Unauthorized
from search import service as search_service
from search.factory import backend_for
from web.csrf import SESSION_COOKIE
from web.deps import OptionalUser, SessionDep, SettingsDep, session_token
from web.errors import page_without_search
from web.framing import PANEL_PATH, is_panel_path, partitioned
from web.routes.auth import sign_in, with_session_cookie
from web.templating import render

router = APIRouter(include_in_schema=False)
MAX_SUBJECT = 500
# Longer texts are refused (a ticket's whole thread pasted in); of the rest, the search uses the
# first search_service.TICKET_TEXT_CHARS characters.
MAX_TEXT = 20_000


def _context(request: Request, *, subject: str = "", text: str = "", ticket: str = "", **more) -> dict:
    settings = request.app.state.settings
    return {
        "subject": subject, "text": text, "ticket": ticket,
        "origins": list(settings.panel_origin_list), "text_chars": search_service.TICKET_TEXT_CHARS,
        "max_subject": MAX_SUBJECT, "max_case_ref": MAX_CASE_REF, "results": None, "unavailable": False,
        "errors": {}, "email": "", "next_url": PANEL_PATH, "demo": not settings.is_production, **more,
    }


def _panel_next(target: str) -> str:
    """Where the panel's sign-in leads: a panel address of this site, else the empty panel."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not is_panel_path(parts.path) or "\\" in target:
        return PANEL_PATH
    return target


@router.get(PANEL_PATH)
def panel(
    request: Request, session: SessionDep, user: OptionalUser,
    subject: Annotated[str, Query(max_length=MAX_SUBJECT)] = "",
    text: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    ticket: Annotated[str, Query(max_length=MAX_CASE_REF)] = "",
):
    """The answers for a ticket; for a signed-out agent, the sign-in form (never an answer)."""
    # After signing in, the same ticket (a long text only as far as it is searched).
    ticket_params = {"subject": subject, "text": text[:search_service.TICKET_TEXT_CHARS + 1], "ticket": ticket}
    next_url = PANEL_PATH + ("?" + urlencode(ticket_params) if subject or text or ticket else "")
    context = _context(request, subject=subject, text=text, ticket=ticket.strip(), next_url=next_url)
    if user is None or not (subject.strip() or text.strip()):
        return render(request, "panel.html", context)
    page_without_search(request, "panel.html", context)
    searched = search_service.answers_for_ticket(
        session=session, backend=backend_for(request.app.state.settings), actor=user,
        query_log=request.app.state.query_log, subject=subject, text=text)
    hits = searched.results.hits
    return render(request, "panel.html", {
        **context,
        "results": searched.results,
        "search_key": searched.search_key,
        "query": search_service.ticket_query(subject=subject, text=text),
        "copy_targets": copy_targets(session=session, entry_ids=[h.entry_id for h in hits if h.audience == "public"]),
    })


@router.post(PANEL_PATH + "/login")
def panel_login(
    request: Request, session: SessionDep, settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=30_000)] = PANEL_PATH,
):
    """Sign in inside the helpdesk's frame; the session cookie is one the browser keeps there."""
    next_url = _panel_next(next)
    try:
        token = sign_in(request, session, settings, email=email, password=password)
    except (Throttled, Unauthorized) as exc:
        status = 429 if isinstance(exc, Throttled) else 401
        response = render(request, "panel.html", _context(request, email=email, next_url=next_url,
                                                          errors={"form": exc.message}), status_code=status)
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return with_session_cookie(RedirectResponse(next_url, status_code=303), settings, token,
                               embedded=bool(settings.panel_origin_list))


@router.post(PANEL_PATH + "/logout")
def panel_logout(request: Request, session: SessionDep, settings: SettingsDep):
    """Sign out of the panel: the session it started ends (kb's own pages keep theirs)."""
    token = session_token(request)
    if token:
        accounts.end_session(session=session, token=token)
    response = RedirectResponse(PANEL_PATH, status_code=303)
    embedded = bool(settings.panel_origin_list)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="none" if embedded else "lax",
                           secure=embedded or settings.cookies_secure)
    return partitioned(response, SESSION_COOKIE) if embedded else response
