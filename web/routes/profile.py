"""The signed-in user's own profile: API tokens and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts import security
from kb.accounts import service as accounts
from kb.accounts.schemas import TokenCreate
from web.deps import PageUser, SessionDep, SettingsDep
from web.forms import submit_form
from web.routes.auth import with_session_cookie
from web.templating import render

router = APIRouter(prefix="/profile")


def _page(request: Request, session, user, *, new_token=None, errors=None, flashes=None, status_code=200):
    context = {
        "tokens": accounts.list_api_tokens(session=session, actor=user, user=user),
        "new_token": new_token,
        "errors": errors or {},
        "flashes": flashes or [],
    }
    return render(request, "profile.html", context, status_code=status_code)


@router.get("", include_in_schema=False)
def profile(request: Request, session: SessionDep, user: PageUser, done: str | None = None):
    messages = {"revoked": "The token was revoked.",
                "password": "Your password was changed. You were signed out everywhere else, and every API token "
                            "of yours was revoked: create a new one below if an integration needs it."}
    flashes = [{"kind": "success", "text": messages[done]}] if done in messages else []
    return _page(request, session, user, flashes=flashes)


@router.post("/tokens", include_in_schema=False)
def create_token(request: Request, session: SessionDep, user: PageUser, name: Annotated[str, Form(max_length=200)] = ""):
    return submit_form(
        lambda: accounts.create_api_token(session=session, actor=user, user=user, data=TokenCreate(name=name)),
        # Shown once, on this response only: we keep just its hash.
        done=lambda created: _page(request, session, user, new_token=created[1]),
        show_form=lambda errors, status: _page(request, session, user, errors=errors, status_code=status))


@router.post("/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(session: SessionDep, user: PageUser, token_id: int):
    accounts.revoke_api_token(session=session, actor=user, token_id=token_id)
    return RedirectResponse("/profile?done=revoked", status_code=303)


@router.post("/password", include_in_schema=False)
def change_password(
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
):
    if not security.verify_password(current_password, user.password_hash):
        return _page(request, session, user, errors={"current_password": "Your current password is not right."}, status_code=422)

    def signed_in_again(_) -> RedirectResponse:
        # Every session ended, this browser's too; it continues in a new one.
        token = accounts.start_session(session=session, user=user, max_age_hours=settings.session_max_age_hours,
                                       user_agent=request.headers.get("user-agent", ""))
        return with_session_cookie(RedirectResponse("/profile?done=password", status_code=303), settings, token)

    return submit_form(
        lambda: accounts.set_password(session=session, actor=user, user=user, password=new_password),
        done=signed_in_again,
        show_form=lambda errors, status: _page(request, session, user, errors=errors, status_code=status))
