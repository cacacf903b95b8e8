"""JSON API for search: what agents (and integrations acting for them) find."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from search import service as search_service
from search.factory import backend_for
from web.errors import error_doc
from web.deps import ApiUser, SessionDep

router = APIRouter(tags=["search"])
Kind = Literal["article", "question", "answer"]


class SearchHitPublic(BaseModel):
    entry_id: int
    kind: str
    title: str  # HTML: escaped text with <mark> around matched terms
    snippet: str  # HTML: escaped text with <mark> around matched terms
    certified: bool
    needs_reverification: bool
    tags: list[str]
    score: float
    confident: bool = True  # a confident match; False: only possibly related (docs/search.md)


class SearchResultsPublic(BaseModel):
    total: int
    hits: list[SearchHitPublic]
    facets: dict[str, dict[str, int]]  # {"tag": {name: count}, "kind": {kind: count}}


@router.get("/search", response_model=SearchResultsPublic,
            responses={503: error_doc("The search backend is unavailable.")})
def search(
    request: Request,
    session: SessionDep,
    user: ApiUser,
    q: Annotated[str, Query(max_length=500, description="Words to search for (typos and prefixes allowed).")] = "",
    tag: Annotated[list[str], Query(description="Only entries with this tag (repeat for several).")] = [],  # noqa: B006
    kind: Annotated[list[Kind], Query(description="Only these kinds (repeat for several).")] = [],  # noqa: B006
    certified: Annotated[bool, Query(description="Only certified content.")] = False,
    include_drafts: Annotated[bool, Query(description="Also drafts and revisions in review you may see "
                                                      "(authors, experts and admins).")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
):
    """Search certified content and forum questions; with ``include_drafts``, also the drafts you may see."""
    results = search_service.search_and_log(
        session=session, backend=backend_for(request.app.state.settings), actor=user,
        query_log=request.app.state.query_log, text=q, tags=tag, kinds=kind, certified_only=certified,
        include_drafts=include_drafts, limit=limit, offset=offset).results
    return SearchResultsPublic(
        total=results.total,
        hits=[SearchHitPublic(entry_id=h.entry_id, kind=h.kind, title=h.title, snippet=h.snippet,
                              certified=h.certified, needs_reverification=h.needs_reverification, tags=h.tags,
                              score=h.score, confident=h.confident) for h in results.hits],
        facets={"tag": results.facets.get("tag", {}), "kind": results.facets.get("kind", {})},
    )
