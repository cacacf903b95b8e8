"""Administration pages: users and their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts import password_links as links
from kb.accounts import service as accounts
from kb.accounts import sso
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate, UserUpdate
from web.deps import AdminPage, ManagedUserDep, SessionDep, SettingsDep
from web.forms import submit_form
from web.nav import ADMIN_DESCRIPTIONS, ADMIN_SECTIONS
from web.templating import render

router = APIRouter(prefix="/admin")


def _users_page(request: Request, session, actor, *, form=None, errors=None, status_code=200, flashes=None,
                new_link=None):
    context = {
        "users": accounts.list_users(session=session, actor=actor),
        "all_roles": list(Role),
        "form": form or {"email": "", "display_name": "", "roles": ["agent"]},
        "errors": errors or {},
        "flashes": flashes or [],
        "new_link": new_link,
    }
    return render(request, "admin/users.html", context, status_code=status_code)


@router.get("", include_in_schema=False)
def admin_index(request: Request, actor: AdminPage):
    """What administrators can manage, one card per page."""
    # Not called "items": the layout's own menu variables must never shadow the page's.
    return render(request, "admin/index.html", {"sections": list(ADMIN_SECTIONS), "descriptions": ADMIN_DESCRIPTIONS})


@router.get("/users", include_in_schema=False)
def users(request: Request, session: SessionDep, actor: AdminPage, settings: SettingsDep, created: int | None = None,
          invited: bool = False):
    flashes = []
    if created is not None:
        new_user = accounts.get_user(session=session, user_id=created)
        text = f"Created {new_user.email}."
        if invited:
            text += (f" An invitation to choose a password is on its way to them by email; its link works for "
                     f"{settings.invitation_days} days.")
        flashes.append({"kind": "success", "text": text})
    return _users_page(request, session, actor, flashes=flashes)


@router.post("/users", include_in_schema=False)
def create_user(
    request: Request,
    session: SessionDep,
    actor: AdminPage,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    password: Annotated[str, Form(max_length=200)] = "",
):
    """With a password: the account is ready. Without: its person is invited by email to choose one."""
    form = {"email": email, "display_name": display_name, "roles": roles}

    def create():
        data = UserCreate(email=email, display_name=display_name, roles=roles, password=password or None)
        if password:
            return accounts.create_user(session=session, actor=actor, data=data)
        return links.invite_user(session=session, actor=actor, data=data, settings=settings)

    def done(created):
        if isinstance(created, links.IssuedLink) and not created.emailed:
            # Shown on this response only (nothing keeps the token), for the administrator to pass on.
            text = f"Created {created.user.email}."
            return _users_page(request, session, actor, flashes=[{"kind": "success", "text": text}],
                               new_link=created)
        user = created.user if isinstance(created, links.IssuedLink) else created
        invited = "&invited=1" if isinstance(created, links.IssuedLink) else ""
        return RedirectResponse(f"/admin/users?created={user.id}{invited}", status_code=303)

    return submit_form(
        create, done=done,
        show_form=lambda errors, status: _users_page(request, session, actor, form=form, errors=errors,
                                                     status_code=status),
        session=session)


SENT = {
    links.INVITE: "An invitation to choose a password is on its way to {email}.",
    links.RESET: "A link to set a new password is on its way to {email}. Their current password keeps working "
                 "until they use it.",
}


def _edit_page(request, user, *, session, actor, errors=None, status_code=200, flashes=None, new_link=None):
    context = {"target": user, "all_roles": list(Role), "errors": errors or {}, "flashes": flashes or [],
               "has_password": user.password_hash is not None, "new_link": new_link,
               "sso": request.app.state.settings.oidc_enabled,
               "identities": sso.linked_identities(session=session, actor=actor, user=user)}
    return render(request, "admin/user_edit.html", context, status_code=status_code)


@router.get("/users/{user_id}", include_in_schema=False)
def edit_user(request: Request, session: SessionDep, actor: AdminPage, user_id: int, saved: bool = False,
              sent: str = ""):
    user = accounts.get_user(session=session, user_id=user_id)
    flashes = [{"kind": "success", "text": "Saved."}] if saved else []
    if sent in SENT:
        flashes.append({"kind": "success", "text": SENT[sent].format(email=user.email)})
    return _edit_page(request, user, flashes=flashes, session=session, actor=actor)


@router.post("/users/{user_id}/roles-from-provider", include_in_schema=False)
def roles_from_provider(session: SessionDep, actor: AdminPage, user: ManagedUserDep):
    """Undo an administrator's choice of roles: single sign-on sets them from the groups again."""
    accounts.roles_from_provider_again(session=session, actor=actor, user=user)
    return RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303)


@router.post("/users/{user_id}/password-link", include_in_schema=False)
def send_password_link(request: Request, session: SessionDep, actor: AdminPage, settings: SettingsDep, user_id: int,
                       purpose: Annotated[str, Form(max_length=16)] = ""):
    """"Send invitation" / "Send password reset link"."""
    user = accounts.get_user(session=session, user_id=user_id)

    def done(issued: links.IssuedLink):
        if issued.emailed:
            return RedirectResponse(f"/admin/users/{user.id}?sent={issued.purpose}", status_code=303)
        return _edit_page(request, user, new_link=issued, session=session, actor=actor)  # the link on this response only

    return submit_form(
        lambda: links.send_link(session=session, actor=actor, user=user, settings=settings, purpose=purpose or None),
        done=done,
        show_form=lambda errors, status: _edit_page(request, user, errors=errors, status_code=status, session=session,
                                                    actor=actor),
        session=session)


@router.post("/users/{user_id}", include_in_schema=False)
def update_user(
    request: Request,
    session: SessionDep,
    actor: AdminPage,
    user: ManagedUserDep,
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str], Form()] = [],  # noqa: B006
    is_active: Annotated[bool, Form()] = False,
):

    def show_form(errors, status):
        session.refresh(user)  # as stored: the refused change was rolled back
        return _edit_page(request, user, errors=errors, status_code=status, session=session, actor=actor)

    return submit_form(
        lambda: accounts.update_user(session=session, actor=actor, user=user, data=UserUpdate(
            display_name=display_name, roles=roles, is_active=is_active)),
        done=lambda _: RedirectResponse(f"/admin/users/{user.id}?saved=1", status_code=303),
        show_form=show_form, session=session)
