"""JSON API for the expert finder: who knows about a subject, and the entries that show it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from expertise import finder
from search.factory import backend_for
from web.errors import error_doc
from web.deps import ApiUser, SessionDep

router = APIRouter(tags=["experts"])


class ExpertPublic(BaseModel):
    user_id: int
    name: str
    score: float = Field(description="0 to 1: matching entries and topic expertise combined.")
    evidence: list[int] = Field(description="Ids of their matching entries you may see, best first.")


class ExpertsPublic(BaseModel):
    experts: list[ExpertPublic]


@router.get("/experts", response_model=ExpertsPublic,
            responses={422: error_doc("No subject given."),
                       503: error_doc("The search backend is unavailable.")})
def experts(request: Request, session: SessionDep, user: ApiUser,
            q: Annotated[str, Query(max_length=500, description="What the expert should know about.")] = ""):
    """Who knows about ``q``: people ranked by their matching entries (certified or not) and their
    expertise in the topics concerned."""
    found = finder.find_experts(session=session, backend=backend_for(request.app.state.settings), viewer=user,
                                query=q)
    return ExpertsPublic(experts=[
        ExpertPublic(user_id=e.user.id, name=e.user.display_name, score=round(e.score, 4),
                     evidence=[ev.entry.id for ev in e.evidence]) for e in found])
