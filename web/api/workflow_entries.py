"""JSON API for entry-level workflow: flags, re-verification and archiving of certified content."""

from __future__ import annotations

from fastapi import APIRouter, status

from kb.content import service as content
from web.api.params import PathId
from web.errors import error_doc
from web.deps import ApiUser, SessionDep
from workflow import flags
from workflow import service as workflow
from workflow.schemas import CertificationPublic, CommentIn, FlagCreate, FlagDismiss, FlagPublic

router = APIRouter(tags=["workflow"])
REFUSALS = {
    403: error_doc("Only experts of the entry's topics (not its author) or administrators may do this."),
    404: error_doc("The entry does not exist, or you cannot see it."),
    409: error_doc("Not possible in the current state (e.g. not certified, already archived)."),
}


@router.post("/entries/{entry_id}/flags", response_model=FlagPublic, status_code=status.HTTP_201_CREATED,
             responses={409: error_doc("You already have an open flag on this entry.")})
def raise_flag(entry_id: PathId, data: FlagCreate, session: SessionDep, user: ApiUser):
    """Flag an article or answer as outdated, incorrect, unclear or duplicate; its topic experts are told."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    flag = flags.raise_flag(session=session, actor=user, entry=entry, reason=data.reason, comment=data.comment)
    return FlagPublic.model_validate(flag)


@router.get("/entries/{entry_id}/flags", response_model=list[FlagPublic])
def list_flags(entry_id: PathId, session: SessionDep, user: ApiUser):
    """Every flag of the entry, newest first."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return [FlagPublic.model_validate(f) for f in flags.flags_for_entry(session=session, entry_id=entry.id)]


@router.post("/flags/{flag_id}/dismiss", response_model=FlagPublic, responses=REFUSALS)
def dismiss_flag(flag_id: PathId, data: FlagDismiss, session: SessionDep, user: ApiUser):
    """Close a flag without changing the content; the reason is sent to the flagger."""
    flag = flags.get_flag(session=session, actor=user, flag_id=flag_id)
    return FlagPublic.model_validate(flags.dismiss_flag(session=session, actor=user, flag=flag, reason=data.reason))


@router.post("/entries/{entry_id}/reverify", response_model=CertificationPublic, responses=REFUSALS)
def reverify(entry_id: PathId, data: CommentIn, session: SessionDep, user: ApiUser):
    """Confirm the certified revision is still right: a new validity period starts today."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    cert = workflow.reverify(session=session, actor=user, entry=entry, comment=data.comment)
    return CertificationPublic.model_validate(cert)


@router.post("/entries/{entry_id}/archive", response_model=CertificationPublic, responses=REFUSALS)
def archive(entry_id: PathId, data: CommentIn, session: SessionDep, user: ApiUser):
    """Take the certified content away from agents; it stays in the history."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return CertificationPublic.model_validate(workflow.archive(session=session, actor=user, entry=entry,
                                                               comment=data.comment))
