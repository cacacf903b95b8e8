"""JSON API for ratings: helpful / not helpful votes and "used to solve a case" reuse."""

from __future__ import annotations

from fastapi import APIRouter, status

from expertise import ratings
from expertise.models import ReuseSource
from expertise.schemas import RatingPublic, ReuseCreate, ReusePublic, VoteIn
from web.errors import error_doc
from web.deps import ApiEntryDep, ApiUser, SessionDep

router = APIRouter(tags=["ratings"])
REFUSALS = {
    403: error_doc("Not allowed: your own work, or a question (rate its answers)."),
    404: error_doc("The entry does not exist, or you cannot see it."),
}


@router.post("/entries/{entry_id}/votes", response_model=RatingPublic, responses=REFUSALS)
def vote(entry: ApiEntryDep, data: VoteIn, session: SessionDep, user: ApiUser):
    """Vote an article or answer helpful (1) or not helpful (-1); a new vote replaces your earlier one."""
    return RatingPublic.of(ratings.vote(session=session, entry=entry, actor=user, value=data.value))


@router.delete("/entries/{entry_id}/votes", response_model=RatingPublic, responses=REFUSALS)
def clear_vote(entry: ApiEntryDep, session: SessionDep, user: ApiUser):
    """Take back your vote (succeeds when you had none)."""
    return RatingPublic.of(ratings.clear_vote(session=session, entry=entry, actor=user))


@router.post("/entries/{entry_id}/reuse", response_model=ReusePublic, status_code=status.HTTP_201_CREATED,
             responses=REFUSALS)
def record_reuse(entry: ApiEntryDep, data: ReuseCreate, session: SessionDep, user: ApiUser):
    """Record that an article or answer was used to solve a customer case (the KCS link rate)."""
    reuse = ratings.record_reuse(session=session, entry=entry, actor=user, case_ref=data.case_ref,
                                 source=ReuseSource.api)
    reuse_count = ratings.ratings_for(session=session, entry_ids=[entry.id], user=user)[entry.id].reuse_count
    return ReusePublic(id=reuse.id, entry_id=entry.id, case_ref=reuse.case_ref, reuse_count=reuse_count)
