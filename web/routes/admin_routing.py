"""Administration of routing: auto-assigning reviewers, how many experts a new question notifies,
and when an unanswered one escalates, globally and per topic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts.actors import SYSTEM
from kb.content import service as content
from kb.errors import ValidationFailed
from expertise import routing
from expertise.questions import MAX_ESCALATION_LEVEL
from web.deps import AdminPage, SessionDep
from web.forms import submit_form
from web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)
Text = Annotated[str, Form(max_length=40)]


def _routing_page(request, session, *, errors=None, form=None, status_code=200, flashes=None):
    base, topics = routing.routing_rules(session=session)
    context = {
        "base": base, "topics": topics, "all_topics": content.suggest_tags(session=session, actor=SYSTEM, limit=500),
        "max_level": MAX_ESCALATION_LEVEL, "max_notify": routing.MAX_NOTIFY_EXPERTS,
        "max_hours": routing.MAX_ESCALATE_HOURS,
        "errors": errors or {}, "form": form or {}, "flashes": flashes or [],
    }
    return render(request, "admin/routing.html", context, status_code=status_code)


@router.get("/routing")
def routing_page(request: Request, session: SessionDep, actor: AdminPage, saved: bool = False):
    return _routing_page(request, session, flashes=[{"kind": "success", "text": "Saved."}] if saved else [])


def _whole_number(value: str, *, field: str, label: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailed(f"{label} must be a whole number.", field=field) from None


@router.post("/routing")
def save_routing(request: Request, session: SessionDep, actor: AdminPage, topic: Text = "",
                 auto_assign: Annotated[bool, Form()] = False, notify_experts: Text = "3",
                 escalate_after_hours: Text = "24"):
    form = {"topic": topic, "auto_assign": auto_assign, "notify_experts": notify_experts,
            "escalate_after_hours": escalate_after_hours}
    return submit_form(
        lambda: routing.set_routing(
            session=session, actor=actor, topic=topic.strip() or None, auto_assign=auto_assign,
            notify_experts=_whole_number(notify_experts, field="notify_experts",
                                         label="The number of experts to notify"),
            escalate_after_hours=_whole_number(escalate_after_hours, field="escalate_after_hours",
                                               label="The hours before escalating")),
        done=_saved, session=session,
        show_form=lambda errors, status: _routing_page(request, session, errors=errors, form=form,
                                                       status_code=status))


@router.post("/routing/{topic}/remove")
def remove_routing(request: Request, session: SessionDep, actor: AdminPage, topic: str):
    return submit_form(
        lambda: routing.remove_routing(session=session, actor=actor, topic=topic), done=_saved, session=session,
        show_form=lambda errors, status: _routing_page(request, session, errors=errors, status_code=status))


def _saved(_) -> RedirectResponse:
    return RedirectResponse("/admin/routing?saved=1", status_code=303)
