"""Administration of the workflow definition: topic experts, review policies, audit export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.models import Role, User, UserRole
from kb.clock import UTC
from kb.content import service as content
from kb.errors import DomainError, NotFound, ValidationFailed
from web.deps import AdminPage, SessionDep
from web.templating import render
from workflow import audit, policy

router = APIRouter(prefix="/admin", include_in_schema=False)
Int = Annotated[int, Form()]
Flag = Annotated[bool, Form()]


def _topics_page(request, session, actor, *, errors=None, status_code=200, flashes=None):
    base, overrides = policy.policies(session)
    experts = list(session.exec(select(User).join(UserRole, UserRole.user_id == User.id)
                                .where(UserRole.role.in_([Role.expert.value, Role.admin.value]),
                                       User.is_active.is_(True)).distinct().order_by(User.display_name)))
    context = {
        "topics": content.suggest_tags(session=session, actor=None, limit=500),
        "by_topic": policy.experts_by_topic(session),
        "base": base, "overrides": overrides, "experts": experts,
        "errors": errors or {}, "flashes": flashes or [],
    }
    return render(request, "admin/topics.html", context, status_code=status_code)


@router.get("/topics")
def topics(request: Request, session: SessionDep, actor: AdminPage, saved: bool = False):
    return _topics_page(request, session, actor, flashes=[{"kind": "success", "text": "Saved."}] if saved else [])


def _guarded(request, session, actor, change):
    """Run one change; on a domain error show the page with the message and nothing half-done."""
    try:
        with session.begin_nested():
            change()
    except DomainError as exc:
        return _topics_page(request, session, actor, errors={exc.field or "form": exc.message},
                            status_code=exc.status_code)
    return RedirectResponse("/admin/topics?saved=1", status_code=303)


@router.post("/topics/{topic}/experts")
def add_expert(request: Request, session: SessionDep, actor: AdminPage, topic: str,
               email: Annotated[str, Form(max_length=254)] = ""):
    def change():
        user = accounts.find_user_by_email(session=session, email=email)
        if user is None:
            raise NotFound(f"No user with the email {email}.", field="email")
        policy.designate_expert(session=session, actor=actor, topic=topic, user=user)
    return _guarded(request, session, actor, change)


@router.post("/topics/{topic}/experts/{user_id}/remove")
def remove_expert(request: Request, session: SessionDep, actor: AdminPage, topic: str, user_id: int):
    user = accounts.get_user(session=session, user_id=user_id)
    return _guarded(request, session, actor,
                    lambda: policy.remove_expert(session=session, actor=actor, topic=topic, user=user))


def _score(raw: str) -> float | None:
    """The form's expertise score: empty means designated experts only."""
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed(f"“{raw}” is not a number; give an expertise score such as 30, or leave it empty.",
                               field="expert_min_score") from None


@router.post("/policy")
def save_policy(request: Request, session: SessionDep, actor: AdminPage, topic: Annotated[str, Form()] = "",
                required_approvals: Int = 1, validity_days: Int = 90, reminder_days: Int = 14,
                approval_certifies: Flag = False, experts_only_review: Flag = False,
                expert_min_score: Annotated[str, Form(max_length=20)] = ""):
    return _guarded(request, session, actor, lambda: policy.set_policy(
        session=session, actor=actor, topic=topic or None, required_approvals=required_approvals,
        validity_days=validity_days, reminder_days=reminder_days, approval_certifies=approval_certifies,
        experts_only_review=experts_only_review, expert_min_score=_score(expert_min_score)))


@router.post("/topics/{topic}/policy/remove")
def remove_policy(request: Request, session: SessionDep, actor: AdminPage, topic: str):
    return _guarded(request, session, actor, lambda: policy.remove_policy(session=session, actor=actor, topic=topic))


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, actor: AdminPage):
    today = date.today()
    return render(request, "admin/audit.html", {"start": today - timedelta(days=30), "end": today,
                                                "admin_events": audit.admin_events(session=session, actor=actor)})


@router.get("/audit.csv")
def audit_csv(session: SessionDep, actor: AdminPage, start: date, end: date):
    if end < start:
        raise ValidationFailed("The end date must not be before the start date.")
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    body = audit.export_csv(session=session, actor=actor, start=since, end=until)
    filename = f"kb-audit-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
