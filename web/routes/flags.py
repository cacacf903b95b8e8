"""Form posts from the entry page: flag it, dismiss a flag, re-verify or archive certified content.

Domain errors propagate; the app renders them as an error page that says what to do next.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse

from kb.content import service as content
from web.deps import EntryDep, FlagDep, PageUser, SessionDep
from web.urls import entry_url
from workflow import flags
from workflow import service as workflow
from workflow.schemas import CommentIn, FlagCreate, FlagDismiss

router = APIRouter(include_in_schema=False)


@router.post("/entries/{entry_id}/flags")
def raise_flag(session: SessionDep, user: PageUser, entry: EntryDep, reason: Annotated[str, Form()] = "",
               comment: Annotated[str, Form()] = ""):
    data = FlagCreate(reason=reason, comment=comment)
    flags.raise_flag(session=session, actor=user, entry=entry, reason=data.reason, comment=data.comment)
    return RedirectResponse(entry_url(entry, "flagged=1"), status_code=303)


@router.post("/flags/{flag_id}/dismiss")
def dismiss_flag(session: SessionDep, user: PageUser, flag: FlagDep, reason: Annotated[str, Form()] = ""):
    flags.dismiss_flag(session=session, actor=user, flag=flag, reason=FlagDismiss(reason=reason).reason)
    return RedirectResponse("/review", status_code=303)


@router.post("/entries/{entry_id}/reverify")
def reverify(session: SessionDep, user: PageUser, entry: EntryDep, comment: Annotated[str, Form()] = ""):
    workflow.reverify(session=session, actor=user, entry=entry, comment=CommentIn(comment=comment).comment)
    return RedirectResponse(entry_url(entry), status_code=303)


@router.post("/entries/{entry_id}/archive")
def archive(session: SessionDep, user: PageUser, entry: EntryDep, comment: Annotated[str, Form()] = ""):
    workflow.archive(session=session, actor=user, entry=entry, comment=CommentIn(comment=comment).comment)
    # Archived articles are hidden from everyone but their author and admins: go to the review queue then.
    if not content.may_view(session=session, actor=user, entry=entry):
        return RedirectResponse("/review", status_code=303)
    return RedirectResponse(entry_url(entry), status_code=303)
