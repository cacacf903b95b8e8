"""JSON API for ratings: helpful / not helpful votes and "used to solve a case" reuse."""

from __future__ import annotations

from fastapi import APIRouter, status

from expertise import ratings
from expertise.models import ReuseSource
from expertise.schemas import RatingPublic, ReuseCreate, ReusePublic, VoteIn
from kb.content import service as content
from web.api.params import PathId
from web.errors import error_doc
from web.deps import ApiUser, SessionDep

router = APIRouter(tags=["ratings"])
REFUSALS = {
    403: error_doc("Not allowed: your own work, or a question (rate its answers)."),
    404: error_doc("The entry does not exist, or you cannot see it."),
}


@router.post("/entries/{entry_id}/votes", response_model=RatingPublic, responses=REFUSALS)
def vote(entry_id: PathId, data: VoteIn, session: SessionDep, user: ApiUser):
    """Vote an article or answer helpful (1) or not helpful (-1); a new vote replaces your earlier one."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return RatingPublic.of(ratings.vote(session=session, entry=entry, actor=user, value=data.value))


@router.delete("/entries/{entry_id}/votes", response_model=RatingPublic, responses=REFUSALS)
def clear_vote(entry_id: PathId, session: SessionDep, user: ApiUser):
    """Take back your vote (succeeds when you had none)."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return RatingPublic.of(ratings.clear_vote(session=session, entry=entry, actor=user))


@router.post("/entries/{entry_id}/reuse", response_model=ReusePublic, status_code=status.HTTP_201_CREATED,
             responses=REFUSALS)
def record_reuse(entry_id: PathId, data: ReuseCreate, session: SessionDep, user: ApiUser):
    """Record that an article or answer was used to solve a customer case (the KCS link rate)."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    reuse = ratings.record_reuse(session=session, entry=entry, actor=user, case_ref=data.case_ref,
                                 source=ReuseSource.api)
    reuse_count = ratings.ratings_for(session, [entry.id], user)[entry.id].reuse_count
    return ReusePublic(id=reuse.id, entry_id=entry.id, case_ref=reuse.case_ref, reuse_count=reuse_count)
