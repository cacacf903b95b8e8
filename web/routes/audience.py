"""Who may see an article (audiences, ``kb.content.audiences``): the form on the article page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse

from kb.content import audiences
from web.deps import EntryDep, PageUser, SessionDep
from web.urls import entry_url

router = APIRouter(include_in_schema=False)


@router.post("/entries/{entry_id}/audience")
def set_audience(session: SessionDep, user: PageUser, entry: EntryDep,
                 groups: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies defaults
                 public: Annotated[bool, Form()] = False):
    # Refusals (not the author, a group deleted meanwhile) are answered by web/errors.py's page.
    audiences.set_audience(session=session, actor=user, entry=entry, group_ids=groups, public=public)
    return RedirectResponse(entry_url(entry, "audience=1"), status_code=303)
