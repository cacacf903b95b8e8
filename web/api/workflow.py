"""JSON API for workflow transitions: POST /revisions/{id}/{action}."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kb.content import service as content
from web.api.params import PathId
from web.errors import error_doc
from web.deps import ApiUser, SessionDep
from workflow import service as workflow
from workflow.models import Action

router = APIRouter(tags=["workflow"])


class TransitionIn(BaseModel):
    comment: str = Field(default="", max_length=5000, description="Required to request changes or reject.")


class TransitionOut(BaseModel):
    revision_id: int
    entry_id: int
    state: str
    certified_revision_id: int | None
    actions: list[Action] = Field(description="What the caller may do next with this revision.")


@router.get("/revisions/{revision_id}/actions", response_model=list[Action])
def allowed(revision_id: PathId, session: SessionDep, user: ApiUser):
    """The workflow actions the caller may take on this revision now."""
    entry, revision = content.get_revision(session=session, actor=user, revision_id=revision_id)
    return workflow.actions_for(session, actor=user, entry=entry, revision=revision)


@router.post("/revisions/{revision_id}/{action}", response_model=TransitionOut,
             responses={403: error_doc("Not allowed for this user"),
                        409: error_doc("Not allowed in the revision's current state")})
def transition(revision_id: PathId, action: Action, session: SessionDep, user: ApiUser, data: TransitionIn | None = None):
    """submit, withdraw, approve, request-changes, reject, resubmit or certify a revision."""
    revision = workflow.transition(session=session, actor=user, revision_id=revision_id, action=action,
                                   comment=(data or TransitionIn()).comment)
    entry, actions, _ = workflow.after_transition(session, actor=user, revision=revision)
    return TransitionOut(revision_id=revision.id, entry_id=entry.id, state=revision.state,
                         certified_revision_id=entry.certified_revision_id, actions=actions)
