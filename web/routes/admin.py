"""Administration pages: users and their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate, UserUpdate
from kb.errors import DomainError
from web.deps import AdminPage, SessionDep
from web.nav import ADMIN_DESCRIPTIONS, ADMIN_NAV
from kb.messages import validation_messages
from web.templating import render

router = APIRouter(prefix="/admin")


def _users_page(request: Request, session, actor, *, form=None, errors=None, status_code=200, flashes=None):
    context = {
        "users": accounts.list_users(session=session, actor=actor),
        "all_roles": list(Role),
        "form": form or {"email": "", "display_name": "", "roles": ["agent"]},
        "errors": errors or {},
        "flashes": flashes or [],
    }
    return render(request, "admin/users.html", context, status_code=status_code)


@router.get("", include_in_schema=False)
def admin_index(request: Request, actor: AdminPage):
    """What administrators can manage, one card per page."""
    return render(request, "admin/index.html", {"items": list(ADMIN_NAV), "descriptions": ADMIN_DESCRIPTIONS})


@router.get("/users", include_in_schema=False)
def users(request: Request, session: SessionDep, actor: AdminPage, created: int | None = None):
    flashes = []
    if created is not None:
        new_user = accounts.get_user(session=session, user_id=created)
        flashes.append({"kind": "success", "text": f"Created {new_user.email}."})
    return _users_page(request, session, actor, flashes=flashes)


@router.post("/users", include_in_schema=False)
def create_user(
    request: Request,
    session: SessionDep,
    actor: AdminPage,
    email: Annotated[str, Form(max_length=254)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    password: Annotated[str, Form(max_length=200)] = "",
):
    form = {"email": email, "display_name": display_name, "roles": roles}
    try:
        data = UserCreate(email=email, display_name=display_name, roles=roles, password=password or None)
        user = accounts.create_user(session=session, actor=actor, data=data)
    except ValidationError as exc:
        return _users_page(request, session, actor, form=form, errors=validation_messages(exc.errors()), status_code=422)
    except DomainError as exc:
        errors = {exc.field or "form": exc.message}
        return _users_page(request, session, actor, form=form, errors=errors, status_code=exc.status_code)
    return RedirectResponse(f"/admin/users?created={user.id}", status_code=303)


def _edit_page(request, user, *, errors=None, status_code=200, flashes=None):
    context = {"target": user, "all_roles": list(Role), "errors": errors or {}, "flashes": flashes or []}
    return render(request, "admin/user_edit.html", context, status_code=status_code)


@router.get("/users/{user_id}", include_in_schema=False)
def edit_user(request: Request, session: SessionDep, actor: AdminPage, user_id: int, saved: bool = False):
    user = accounts.get_user(session=session, user_id=user_id)
    return _edit_page(request, user, flashes=[{"kind": "success", "text": "Saved."}] if saved else [])


@router.post("/users/{user_id}", include_in_schema=False)
def update_user(
    request: Request,
    session: SessionDep,
    actor: AdminPage,
    user_id: int,
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006
    is_active: Annotated[bool, Form()] = False,
):
    user = accounts.get_user(session=session, user_id=user_id)
    try:
        data = UserUpdate(display_name=display_name, roles=roles, is_active=is_active)
        with session.begin_nested():
            accounts.update_user(session=session, actor=actor, user=user, data=data)
    except ValidationError as exc:
        session.refresh(user)
        return _edit_page(request, user, errors=validation_messages(exc.errors()), status_code=422)
    except DomainError as exc:
        session.refresh(user)
        return _edit_page(request, user, errors={exc.field or "form": exc.message}, status_code=exc.status_code)
    return RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303)
