"""The agent search page: search as you type (htmx), facets, badges, drafts toggle."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select

from expertise.answer_copy import copy_targets
from kb.accounts.models import User
from kb.content import access
from search import outbox, querylog
from search import service as search_service
from search.factory import backend_for
from web.deps import PageUser, SessionDep
from web.errors import page_without_search
from web.templating import render
from workflow.models import Certification

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
#: The last results page served (a search of 10,000 results and more is refined, not paged through).
LAST_PAGE = 500


@router.get("/search")
def search_page(
    request: Request, session: SessionDep, user: PageUser,
    q: Annotated[str, Query(max_length=500)] = "",
    tag: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    kind: Annotated[list[Literal["article", "question", "answer"]], Query()] = [],  # noqa: B006
    drafts: bool = False,
    page: Annotated[int, Query(ge=1, le=LAST_PAGE)] = 1,
):
    can_see_drafts = access.can_write_articles(user)
    # htmx asks for the results only, as the agent types.
    name = "_search_results.html" if request.headers.get("hx-request") else "search.html"
    context = {
        "q": q, "tags": tag, "kinds": kind, "drafts": drafts, "page": page, "can_see_drafts": can_see_drafts,
        "results": None, "unavailable": False, "search_key": None, "certificates": {}, "copy_targets": {},
        "suggestions": [], "pages": 1,
        # Changes not indexed after a few seconds (the indexer is behind, or the backend is down).
        "pending": outbox.lagging_count(session=session, semantic=request.app.state.settings.semantic),
    }
    page_without_search(request, name, context)  # search down: this page, saying it is catching up
    searched = search_service.search_and_log(
        session=session, backend=backend_for(request.app.state.settings), actor=user,
        query_log=request.app.state.query_log, text=q, tags=tag, kinds=kind,
        include_drafts=drafts and can_see_drafts, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    results = searched.results
    entry_ids = [h.entry_id for h in results.hits]
    return render(request, name, {
        **context,
        "results": results,
        "search_key": searched.search_key,
        "certificates": _certificates(session, entry_ids),
        # "Copy answer" buttons: which entry's certified text each result copies.
        "copy_targets": copy_targets(session=session, entry_ids=[h.entry_id for h in results.hits
                                                                 if h.audience == "public"]),
        "suggestions": querylog.suggestions(session=session, query=q) if not results.total and q else [],
        "pages": max(1, -(-results.total // PAGE_SIZE)), "last_page": LAST_PAGE,
    })


def _certificates(session, entry_ids: list[int]) -> dict[int, tuple[Certification, User]]:
    """Certifier and validity for the certified results, in one query."""
    if not entry_ids:
        return {}
    rows = session.exec(select(Certification, User).join(User, User.id == Certification.certified_by)
                        .where(Certification.entry_id.in_(entry_ids)))
    return {cert.entry_id: (cert, user) for cert, user in rows}


@router.get("/search/click")
def click(request: Request, session: SessionDep, user: PageUser, entry: int, rank: Annotated[int, Query(ge=1, le=10_000)] = 1,
          search: Annotated[str | None, Query(max_length=32)] = None, q: Annotated[str, Query(max_length=500)] = ""):
    """Record which result was opened (for the content-gap reports, with the query log's next batch),
    then open it."""
    if search:
        request.app.state.query_log.click(user_id=user.id, search_key=search, entry_id=entry, rank=rank)
    target = f"/entries/{entry}" + (f"?q={quote(q)}" if q else "")
    return RedirectResponse(target, status_code=303)
