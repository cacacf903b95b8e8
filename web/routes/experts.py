"""The experts pages: the directory by topic, and "Who knows about…?" with the evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kb.errors import ValidationFailed
from expertise import finder
from search.factory import backend_for
from web.deps import PageUser, SessionDep
from web.errors import page_without_search
from web.urls import entry_url
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/experts")
def experts_page(request: Request, session: SessionDep, user: PageUser,
                 q: Annotated[str, Query(max_length=500)] = ""):
    context = {"q": q, "subject": finder.clean_query(q), "experts": None, "directory": None, "error": None, "unavailable": False,
               "entry_url": entry_url}
    if not q.strip():
        context["directory"] = finder.directory(session=session, viewer=user)
        return render(request, "experts.html", context)
    page_without_search(request, "experts.html", context)
    try:
        context["experts"] = finder.find_experts(session=session, backend=backend_for(request.app.state.settings),
                                                 viewer=user, query=q)
    except ValidationFailed as exc:
        context["error"] = exc.message
        return render(request, "experts.html", context, status_code=exc.status_code)
    return render(request, "experts.html", context)
