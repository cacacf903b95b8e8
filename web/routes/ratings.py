"""Rating from the pages: "Was this helpful?" votes, "Used to solve a case", and "Copy answer".

The forms work without JavaScript (post, then back to the entry); htmx asks for the rating panel
alone and swaps it in. Domain errors propagate: the app renders them as a page (or JSON for
scripts) that says what to do next.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from expertise import answer_copy, ratings
from kb.content import service as content
from kb.content.models import Entry
from web.deps import EntryDep, PageUser, SessionDep
from web.errors import wants_json
from web.urls import entry_url
from web.templating import render

router = APIRouter(include_in_schema=False)
VOTE_MESSAGES = {
    ratings.HELPFUL: "Thank you: you marked this as helpful.",
    ratings.NOT_HELPFUL: "Thank you: you marked this as not helpful.",
    ratings.NO_VOTE: "Your vote was taken back.",
}


def _back(request: Request, entry: Entry, rating: ratings.RatingSummary, message: str = ""):
    if request.headers.get("hx-request"):
        return render(request, "_rating_panel.html", {"rating": rating, "rating_message": message})
    url = entry_url(entry)  # answers already point at themselves in their thread
    return RedirectResponse(url if "#" in url else f"{url}#rating-{entry.id}", status_code=303)


@router.post("/entries/{entry_id}/votes")
def vote(request: Request, session: SessionDep, user: PageUser, entry: EntryDep,
         value: Annotated[int, Form()]):
    """1 helpful, -1 not helpful, 0 takes the vote back (the "Undo" button sends 0)."""
    if value == ratings.NO_VOTE:
        rating = ratings.clear_vote(session=session, entry=entry, actor=user)
    else:
        rating = ratings.vote(session=session, entry=entry, actor=user, value=value)
    return _back(request, entry, rating, VOTE_MESSAGES[rating.my_vote])


@router.post("/entries/{entry_id}/reuse")
def record_reuse(request: Request, session: SessionDep, user: PageUser, entry: EntryDep,
                 case_ref: Annotated[str, Form(max_length=1000)] = "",
                 source: Annotated[Literal["entry", "search", "panel"], Form()] = "entry"):
    """"Used to solve a case" on the entry page, and "Copy answer" in the search results and both in
    the helpdesk side panel (JSON)."""
    reuse = ratings.record_reuse(session=session, entry=entry, actor=user, case_ref=case_ref, source=source)
    rating = ratings.rating_view(session=session, actor=user, entry=entry, revision=content.visible_revision(session=session, actor=user,
                                                                               entry=entry))
    message = f"Recorded: used to solve case {reuse.case_ref}." if reuse.case_ref else "Recorded: used to solve a case."
    if wants_json(request):
        return JSONResponse({"id": reuse.id, "entry_id": entry.id, "reuse_count": rating.reuse_count,
                             "message": message}, status_code=201)
    return _back(request, entry, rating, message)


@router.get("/entries/{entry_id}/plain")
def plain_answer(session: SessionDep, user: PageUser, entry_id: int):
    """The certified answer of an entry as plain text (its part for the customer, when marked), for
    "Copy answer"."""
    _, revision = answer_copy.copied_answer(session=session, actor=user, entry_id=entry_id)
    return PlainTextResponse(answer_copy.customer_text(revision.body))
