"""JSON API: the current user, users (admins) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from kb.accounts import groups
from kb.accounts import password_links as links
from kb.accounts import service as accounts
from kb.accounts.schemas import (GroupCreate, GroupPublic, PasswordLinkCreate, PasswordLinkPublic, TokenCreate,
                                 TokenCreated, TokenPublic, UserCreate, UserPublic, UserUpdate)
from web.api.params import PathId
from web.deps import AdminApi, ApiManagedUserDep, ApiUser, SessionDep, SettingsDep

router = APIRouter(tags=["accounts"])


def _public(user) -> UserPublic:
    return UserPublic.model_validate({**user.model_dump(), "roles": user.roles})


@router.get("/me", response_model=UserPublic)
def me(user: ApiUser):
    return _public(user)


@router.get("/groups", response_model=list[GroupPublic])
def list_groups(session: SessionDep, user: ApiUser):
    """The groups articles can be limited to (``audience``): for writers and administrators."""
    groups.require_may_list(user)
    return [GroupPublic.model_validate(g) for g in groups.list_groups(session=session)]


@router.post("/groups", response_model=GroupPublic, status_code=status.HTTP_201_CREATED)
def create_group(data: GroupCreate, session: SessionDep, actor: AdminApi):
    """Create a group (administrators); its members are added on /admin/groups or from sign-in claims."""
    return GroupPublic.model_validate(groups.create_group(session=session, actor=actor, name=data.name,
                                                          description=data.description))


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, actor: AdminApi):
    return [_public(u) for u in accounts.list_users(session=session, actor=actor)]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(data: UserCreate, session: SessionDep, actor: AdminApi, settings: SettingsDep):
    """Without a password, the user is emailed an invitation to choose one (see `password-link`)."""
    if data.password:
        return _public(accounts.create_user(session=session, actor=actor, data=data))
    return _public(links.invite_user(session=session, actor=actor, data=data, settings=settings).user)


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(user: ApiManagedUserDep, data: UserUpdate, session: SessionDep, actor: AdminApi):
    return _public(accounts.update_user(session=session, actor=actor, user=user, data=data))


@router.post("/users/{user_id}/password-link", response_model=PasswordLinkPublic,
             status_code=status.HTTP_201_CREATED)
def send_password_link(user_id: PathId, session: SessionDep, actor: AdminApi, settings: SettingsDep,
                       data: PasswordLinkCreate | None = None):
    """Email the user a one-time link to set their password: an invitation or a reset. Older links
    stop working; their current password keeps working until they use the link. 409 for a
    deactivated user."""
    user = accounts.get_user(session=session, user_id=user_id)
    purpose = data.purpose if data else None
    issued = links.send_link(session=session, actor=actor, user=user, settings=settings, purpose=purpose)
    return PasswordLinkPublic(user_id=user.id, purpose=issued.purpose, expires_at=issued.expires_at,
                              emailed=issued.emailed, url=None if issued.emailed else issued.url)


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, user: ApiUser):
    return accounts.list_api_tokens(session=session, actor=user, user=user)


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(data: TokenCreate, session: SessionDep, user: ApiUser):
    token, raw = accounts.create_api_token(session=session, actor=user, user=user, data=data)
    return TokenCreated.model_validate({**TokenPublic.model_validate(token).model_dump(), "token": raw})


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: PathId, session: SessionDep, user: ApiUser):
    return accounts.revoke_api_token(session=session, actor=user, token_id=token_id)
