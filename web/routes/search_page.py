"""The agent search page: search as you type (htmx), facets, badges, drafts toggle."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from kb.content import access
from search import service as search_service
from search.factory import backend_for
from web.deps import PageUser, SessionDep
from web.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("kb.web.search")
PAGE_SIZE = 20


@router.get("/search")
def search_page(
    request: Request, session: SessionDep, user: PageUser,
    q: Annotated[str, Query(max_length=500)] = "",
    tag: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    kind: Annotated[list[Literal["article", "question", "answer"]], Query()] = [],  # noqa: B006
    drafts: bool = False,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
):
    can_see_drafts = access.can_write_articles(user)
    results, unavailable = None, False
    try:
        results = search_service.search(
            session=session, backend=backend_for(request.app.state.settings), viewer_user=user, text=q,
            tags=tag, kinds=kind, include_drafts=drafts and can_see_drafts, limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE)
    except Exception as exc:  # show the page with a message rather than an error
        log.warning("search failed: %s", exc)
        unavailable = True
    context = {
        "q": q, "tags": tag, "kinds": kind, "drafts": drafts, "page": page, "results": results,
        "unavailable": unavailable, "can_see_drafts": can_see_drafts,
        "pages": max(1, -(-results.total // PAGE_SIZE)) if results else 1,
    }
    # htmx asks for the results only, as the agent types.
    name = "_search_results.html" if request.headers.get("hx-request") else "search.html"
    return render(request, name, context)
