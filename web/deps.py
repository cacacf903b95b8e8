"""Request dependencies: the unit of work, the signed-in user, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, TimestampSigner
from sqlmodel import Session

from kb.accounts import service as accounts
from kb.accounts.models import Role, User
from kb.db import unit_of_work
from kb.errors import Forbidden, Unauthorized
from kb.settings import Settings
from web.csrf import SESSION_COOKIE
from workflow import inbox


@dataclass(frozen=True)
class Viewer:
    """What pages show about the signed-in user; safe to use after the request's session closed."""

    id: int
    email: str
    display_name: str
    roles: frozenset[Role]
    # Unread notifications, counted once per request for the top bar's inbox bubble.
    unread: int = 0

    @classmethod
    def of(cls, user: User, *, unread: int = 0) -> Viewer:
        return cls(id=user.id, email=user.email, display_name=user.display_name, roles=frozenset(user.roles),
                   unread=unread)

    def has_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles


class LoginRequired(Exception):
    """An HTML page needs a signed-in user; the handler redirects to the login page."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One unit of work per request: services flush, this commits or rolls back."""
    state = request.app.state
    writes = request.method not in READ_METHODS
    session: Session = state.sessionmaker(bind=state.write_engine) if writes else state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a redirect never outruns its data
# and a failed commit is never reported as success.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def side_write(request: Request, read_session: Session | None = None):
    """A short writing transaction of its own, for the few reads that record something (the
    query log of a search, a token's last use). A read request's session cannot write on SQLite
    once another writer has committed since it started reading ("database is locked"). The
    read session's transaction ends first (it wrote nothing), so a request never holds two
    pooled connections at once; it starts a new one if it reads again."""
    if read_session is not None:
        read_session.commit()
    return unit_of_work(request.app.state.engine)


def session_signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret_key, salt="kb.session")


def session_token(request: Request) -> str | None:
    """The raw session token from the signed cookie, or None when absent or tampered with."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings: Settings = request.app.state.settings
    try:
        return session_signer(settings).unsign(raw, max_age=settings.session_max_age_hours * 3600).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def optional_user(request: Request, session: SessionDep) -> User | None:
    token = session_token(request)
    user = accounts.user_for_session(session=session, token=token) if token else None
    if user is None:
        request.state.user = None
    else:
        request.state.user = Viewer.of(user, unread=inbox.unread_count(session=session, actor=user))
    return user


def page_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise LoginRequired()
    return user


_bearer = HTTPBearer(auto_error=False, description="An API token from your profile page or `kb user token`.")


NO_TOKEN = "Send an API token as 'Authorization: Bearer <token>'."
BAD_TOKEN = "This API token is not valid: it is unknown, revoked, or its user is deactivated."


def api_user(
    request: Request, session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized(NO_TOKEN)
    user = accounts.user_for_api_token(session=session, raw=credentials.credentials)
    if user is None:
        raise Unauthorized(BAD_TOKEN)
    if not accounts.api_token_needs_touch(session=session, raw=credentials.credentials):
        return user
    if request.method in READ_METHODS:  # a read request's session does not write
        with side_write(request, session) as write_session:
            accounts.touch_api_token(session=write_session, raw=credentials.credentials)
    else:
        accounts.touch_api_token(session=session, raw=credentials.credentials)
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
PageUser = Annotated[User, Depends(page_user)]
ApiUser = Annotated[User, Depends(api_user)]


def require_admin_page(user: PageUser) -> User:
    if not user.has_role(Role.admin):
        raise Forbidden("This page is for administrators.")
    return user


def require_admin_api(user: ApiUser) -> User:
    if not user.has_role(Role.admin):
        raise Forbidden("This operation is for administrators.")
    return user


AdminPage = Annotated[User, Depends(require_admin_page)]
AdminApi = Annotated[User, Depends(require_admin_api)]
