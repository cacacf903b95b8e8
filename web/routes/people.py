"""People's profile pages: reputation, expertise with its evidence, certified work, recent activity;
endorsing colleagues and declaring one's own interests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from expertise import people
from kb.content import service as content
from web.deps import PageUser, PersonDep, SessionDep
from web.forms import submit_form
from web.urls import entry_url
from web.templating import render

router = APIRouter(prefix="/people", include_in_schema=False)
Topic = Annotated[str, Form(max_length=100)]
DONE = {
    "endorsed": "Your endorsement is saved.",
    "withdrawn": "Your endorsement is withdrawn.",
    "interest": "Your interest is saved.",
    "interest-removed": "That interest is removed.",
}


def _page(request: Request, session, viewer, user_id: int, *, errors=None, flashes=None, status_code=200):
    profile = people.person_profile(session=session, viewer=viewer, user_id=user_id)
    context = {
        "profile": profile,
        "can_endorse": not profile.is_self and profile.person.is_active,
        "topics": content.suggest_tags(session=session, actor=viewer, limit=500),
        "entry_url": entry_url,
        "errors": errors or {},
        "flashes": flashes or [],
    }
    return render(request, "people.html", context, status_code=status_code)


def _change(request: Request, session, viewer, user_id: int, change: Callable[[], object], done: str, anchor: str):
    """Run one change; on a domain error show the profile with the message and nothing half-done."""
    return submit_form(
        change, done=lambda _: RedirectResponse(f"/people/{user_id}?done={done}#{anchor}", status_code=303),
        session=session,
        show_form=lambda errors, status: _page(request, session, viewer, user_id, errors=errors, status_code=status))


@router.get("/me")
def me(user: PageUser):
    return RedirectResponse(f"/people/{user.id}", status_code=303)


@router.get("/{user_id}")
def person(request: Request, session: SessionDep, user: PageUser, user_id: int, done: str | None = None):
    flashes = [{"kind": "success", "text": DONE[done]}] if done in DONE else []
    return _page(request, session, user, user_id, flashes=flashes)


@router.post("/me/interests")
def declare_interest(request: Request, session: SessionDep, user: PageUser, topic: Topic = ""):
    return _change(request, session, user, user.id,
                   lambda: people.declare_interest(session=session, actor=user, topic=topic), "interest", "interests")


@router.post("/me/interests/{topic}/remove")
def remove_interest(request: Request, session: SessionDep, user: PageUser, topic: str):
    return _change(request, session, user, user.id,
                   lambda: people.remove_interest(session=session, actor=user, topic=topic), "interest-removed",
                   "interests")


@router.post("/{user_id}/endorsements")
def endorse(request: Request, session: SessionDep, user: PageUser, colleague: PersonDep, topic: Topic = ""):
    return _change(request, session, user, colleague.id,
                   lambda: people.endorse(session=session, actor=user, user=colleague, topic=topic), "endorsed",
                   "expertise")


@router.post("/{user_id}/endorsements/{topic}/withdraw")
def withdraw_endorsement(request: Request, session: SessionDep, user: PageUser, colleague: PersonDep, topic: str):
    return _change(request, session, user, colleague.id,
                   lambda: people.withdraw_endorsement(session=session, actor=user, user=colleague, topic=topic),
                   "withdrawn", "expertise")
