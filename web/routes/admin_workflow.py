"""Administration of the workflow definition: topic experts, review policies, audit export."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import Role, User, UserRole
from kb.content import service as content
from kb.errors import NotFound, ValidationFailed
from web.deps import AdminPage, ManagedUserDep, SessionDep
from web.forms import submit_form
from web.urls import entry_url
from web.templating import render
from workflow import audit_trail, policy

router = APIRouter(prefix="/admin", include_in_schema=False)
Int = Annotated[int, Form()]
Flag = Annotated[bool, Form()]


def _topics_page(request, session, actor, *, errors=None, status_code=200, flashes=None):
    base, overrides = policy.policies(session=session)
    experts = list(session.exec(select(User).join(UserRole, UserRole.user_id == User.id)
                                .where(UserRole.role.in_([Role.expert.value, Role.admin.value]),
                                       User.is_active.is_(True)).distinct().order_by(User.display_name)))
    context = {
        "topics": content.suggest_tags(session=session, actor=SYSTEM, limit=500),
        "by_topic": policy.experts_by_topic(session=session),
        "base": base, "overrides": overrides, "experts": experts, "options": policy.non_default_options,
        "errors": errors or {}, "flashes": flashes or [],
    }
    return render(request, "admin/topics.html", context, status_code=status_code)


@router.get("/topics")
def topics(request: Request, session: SessionDep, actor: AdminPage, saved: bool = False):
    return _topics_page(request, session, actor, flashes=[{"kind": "success", "text": "Saved."}] if saved else [])


def _guarded(request, session, actor, change):
    """Run one change; on a domain error show the page with the message and nothing half-done."""
    return submit_form(
        change, done=lambda _: RedirectResponse("/admin/topics?saved=1", status_code=303), session=session,
        show_form=lambda errors, status: _topics_page(request, session, actor, errors=errors, status_code=status))


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
def remove_expert(request: Request, session: SessionDep, actor: AdminPage, topic: str, user: ManagedUserDep):
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
                approver_cannot_certify: Flag = False, expert_min_score: Annotated[str, Form(max_length=20)] = ""):
    return _guarded(request, session, actor, lambda: policy.set_policy(
        session=session, actor=actor, topic=topic or None, required_approvals=required_approvals,
        validity_days=validity_days, reminder_days=reminder_days, approval_certifies=approval_certifies,
        experts_only_review=experts_only_review, expert_min_score=_score(expert_min_score),
        approver_cannot_certify=approver_cannot_certify))


@router.post("/topics/{topic}/policy/remove")
def remove_policy(request: Request, session: SessionDep, actor: AdminPage, topic: str):
    return _guarded(request, session, actor, lambda: policy.remove_policy(session=session, actor=actor, topic=topic))


def _day(raw: str, field: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"“{raw[:20]}” is not a date; give one such as 2026-01-31, or leave it empty.",
                               field=field) from None


# Longer than any filter: refused with a sentence by the service below this bound.
AuditText = Annotated[str, Query(max_length=audit_trail.MAX_WHO)]


def _audit_filter(who, kind, action, start, end, entry) -> audit_trail.AuditFilter:
    return audit_trail.AuditFilter(who=who, kind=kind, action=action, start=_day(start, "start"),
                                   end=_day(end, "end"), entry=entry)


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, actor: AdminPage, who: AuditText = "", kind: AuditText = "",
               action: AuditText = "", start: AuditText = "", end: AuditText = "", entry: AuditText = "",
               page: int = 1, size: int = audit_trail.DEFAULT_PAGE_SIZE):
    form = {"who": who, "kind": kind, "action": action, "start": start, "end": end, "entry": entry, "size": size}
    context = {"form": form, "kinds": audit_trail.KINDS, "page_sizes": audit_trail.PAGE_SIZES,
               "max_page": audit_trail.MAX_PAGE, "entry_url": entry_url, "result": None,
               # The filters alone (the CSV link, "Clear filters"), and with the page size (the pager).
               "query": urlencode({k: v for k, v in form.items() if v and k != "size"}),
               "page_query": urlencode({k: v for k, v in form.items()
                                        if v and (k != "size" or v != audit_trail.DEFAULT_PAGE_SIZE)})}

    def show(errors, status_code):
        return render(request, "admin/audit.html", {**context, "errors": errors}, status_code=status_code)

    return submit_form(
        lambda: audit_trail.audit_page(session=session, actor=actor, filters=_audit_filter(
            who, kind, action, start, end, entry), page=page, page_size=size),
        done=lambda result: render(request, "admin/audit.html", {**context, "result": result, "errors": {}}),
        show_form=show)


@router.get("/audit.csv")
def audit_csv(session: SessionDep, actor: AdminPage, who: AuditText = "", kind: AuditText = "",
              action: AuditText = "", start: AuditText = "", end: AuditText = "", entry: AuditText = ""):
    filters = _audit_filter(who, kind, action, start, end, entry)
    body = audit_trail.export_csv(session=session, actor=actor, filters=filters)
    span = "-".join(d.isoformat() for d in (filters.start, filters.end) if d) or "all"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="kb-audit-{span}.csv"'})
