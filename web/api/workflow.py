"""JSON API for the workflow: revision transitions (POST /revisions/{id}/{action}), and on entries
flags, re-verification and archiving of certified content."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from web.api.params import PathId
from web.errors import error_doc
from web.deps import ApiEntryDep, ApiFlagDep, ApiRevisionDep, ApiUser, SessionDep
from workflow import flags
from workflow import service as workflow
from workflow.models import Action
from workflow.schemas import CertificationPublic, CommentIn, FlagCreate, FlagDismiss, FlagPublic

router = APIRouter(tags=["workflow"])
REFUSALS = {
    403: error_doc("Only experts of the entry's topics (not its author) or administrators may do this."),
    404: error_doc("The entry does not exist, or you cannot see it."),
    409: error_doc("Not possible in the current state (e.g. not certified, already archived)."),
}


class TransitionIn(BaseModel):
    comment: str = Field(default="", max_length=5000, description="Required to request changes or reject.")


class TransitionOut(BaseModel):
    revision_id: int
    entry_id: int
    state: str
    certified_revision_id: int | None
    actions: list[Action] = Field(description="What the caller may do next with this revision.")


@router.get("/revisions/{revision_id}/actions", response_model=list[Action])
def allowed(target: ApiRevisionDep, session: SessionDep, user: ApiUser):
    """The workflow actions the caller may take on this revision now."""
    entry, revision = target
    return workflow.actions_for(session=session, actor=user, entry=entry, revision=revision)


@router.post("/revisions/{revision_id}/{action}", response_model=TransitionOut,
             responses={403: error_doc("Not allowed for this user"),
                        409: error_doc("Not allowed in the revision's current state")})
def transition(revision_id: PathId, action: Action, session: SessionDep, user: ApiUser, data: TransitionIn | None = None):
    """submit, withdraw, approve, request-changes, reject, resubmit or certify a revision."""
    revision = workflow.transition(session=session, actor=user, revision_id=revision_id, action=action,
                                   comment=(data or TransitionIn()).comment)
    entry, actions, _ = workflow.after_transition(session=session, actor=user, revision=revision)
    return TransitionOut(revision_id=revision.id, entry_id=entry.id, state=revision.state,
                         certified_revision_id=entry.certified_revision_id, actions=actions)


# --- entries: flags, re-verification, archiving ------------------------------------------------

@router.post("/entries/{entry_id}/flags", response_model=FlagPublic, status_code=status.HTTP_201_CREATED,
             responses={409: error_doc("You already have an open flag on this entry.")})
def raise_flag(entry: ApiEntryDep, data: FlagCreate, session: SessionDep, user: ApiUser):
    """Flag an article or answer as outdated, incorrect, unclear or duplicate; its topic experts are told."""
    flag = flags.raise_flag(session=session, actor=user, entry=entry, reason=data.reason, comment=data.comment)
    return FlagPublic.model_validate(flag)


@router.get("/entries/{entry_id}/flags", response_model=list[FlagPublic])
def list_flags(entry: ApiEntryDep, session: SessionDep, user: ApiUser):
    """Every flag of the entry, newest first."""
    return [FlagPublic.model_validate(f) for f in flags.flags_for_entry(session=session, entry_id=entry.id)]


@router.post("/flags/{flag_id}/dismiss", response_model=FlagPublic, responses=REFUSALS)
def dismiss_flag(flag: ApiFlagDep, data: FlagDismiss, session: SessionDep, user: ApiUser):
    """Close a flag without changing the content; the reason is sent to the flagger."""
    return FlagPublic.model_validate(flags.dismiss_flag(session=session, actor=user, flag=flag, reason=data.reason))


@router.post("/entries/{entry_id}/reverify", response_model=CertificationPublic, responses=REFUSALS)
def reverify(entry: ApiEntryDep, data: CommentIn, session: SessionDep, user: ApiUser):
    """Confirm the certified revision is still right: a new validity period starts today."""
    cert = workflow.reverify(session=session, actor=user, entry=entry, comment=data.comment)
    return CertificationPublic.model_validate(cert)


@router.post("/entries/{entry_id}/archive", response_model=CertificationPublic, responses=REFUSALS)
def archive(entry: ApiEntryDep, data: CommentIn, session: SessionDep, user: ApiUser):
    """Take the certified content away from agents; it stays in the history."""
    return CertificationPublic.model_validate(workflow.archive(session=session, actor=user, entry=entry,
                                                               comment=data.comment))
