"""Request dependencies: the unit of work, the signed-in user, role checks, and the resource a
route is about (an entry, revision, question, answer, flag, attachment or user: loaded or 404)."""

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
from kb.content import attachments, forum
from kb.content import service as content
from kb.content.models import Attachment, Entry, EntryKind, Revision
from kb.db import unit_of_work
from kb.errors import Forbidden, Unauthorized
from kb.settings import Settings
from web.api.params import PathId
from web.csrf import SESSION_COOKIE
from workflow import flags, inbox
from workflow.models import Flag


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
    """A short writing transaction of its own, for the few reads that record something (a token's
    last use). A read request's session cannot write on SQLite
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
    use = accounts.api_token_use(session=session, raw=credentials.credentials)
    if use is None:
        raise Unauthorized(BAD_TOKEN)
    user = use.user
    if not use.needs_touch:
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


# --- the resource in the path, loaded or 404 -------------------------------------------------
# The domain services decide who may see what: an entry, revision or flag the user may not see is
# a 404 with the same sentence as one that does not exist. Pages take any integer id (out of
# range: 422 from web.errors); the API documents and checks its ids as PathId.


def page_entry(entry_id: int, *, session: SessionDep, user: PageUser) -> Entry:
    return content.get_entry(session=session, actor=user, entry_id=entry_id)


def api_entry(entry_id: PathId, *, session: SessionDep, user: ApiUser) -> Entry:
    return content.get_entry(session=session, actor=user, entry_id=entry_id)


def page_article(entry_id: int, *, session: SessionDep, user: PageUser) -> Entry:
    return content.get_entry(session=session, actor=user, entry_id=entry_id, kind=EntryKind.article)


def page_revision(revision_id: int, *, session: SessionDep, user: PageUser) -> tuple[Entry, Revision]:
    return content.get_revision(session=session, actor=user, revision_id=revision_id)


def api_revision(revision_id: PathId, *, session: SessionDep, user: ApiUser) -> tuple[Entry, Revision]:
    return content.get_revision(session=session, actor=user, revision_id=revision_id)


def page_question(question_id: int, *, session: SessionDep, user: PageUser) -> Entry:
    return forum.get_question(session=session, actor=user, question_id=question_id)


def api_question(question_id: PathId, *, session: SessionDep, user: ApiUser) -> Entry:
    return forum.get_question(session=session, actor=user, question_id=question_id)


def page_answer(answer_id: int, *, session: SessionDep, user: PageUser) -> Entry:
    return forum.get_answer(session=session, actor=user, answer_id=answer_id)


def api_answer(answer_id: PathId, *, session: SessionDep, user: ApiUser) -> Entry:
    return forum.get_answer(session=session, actor=user, answer_id=answer_id)


def page_flag(flag_id: int, *, session: SessionDep, user: PageUser) -> Flag:
    return flags.get_flag(session=session, actor=user, flag_id=flag_id)


def api_flag(flag_id: PathId, *, session: SessionDep, user: ApiUser) -> Flag:
    return flags.get_flag(session=session, actor=user, flag_id=flag_id)


def page_attachment(attachment_id: int, *, session: SessionDep, user: PageUser) -> Attachment:
    return attachments.get_attachment(session=session, actor=user, attachment_id=attachment_id)


# People are no secret among colleagues; managing them (roles, expert designations) is for
# administrators, checked before the lookup so that a refusal says nothing about who exists.
def page_person(user_id: int, *, session: SessionDep, user: PageUser) -> User:
    return accounts.get_user(session=session, user_id=user_id)


def admin_page_user(user_id: int, *, session: SessionDep, actor: AdminPage) -> User:
    return accounts.get_user(session=session, user_id=user_id)


def admin_api_user(user_id: PathId, *, session: SessionDep, actor: AdminApi) -> User:
    return accounts.get_user(session=session, user_id=user_id)


EntryDep = Annotated[Entry, Depends(page_entry)]
ApiEntryDep = Annotated[Entry, Depends(api_entry)]
ArticleDep = Annotated[Entry, Depends(page_article)]
# (entry, revision): routes about a revision nearly always need its entry too.
RevisionDep = Annotated[tuple[Entry, Revision], Depends(page_revision)]
ApiRevisionDep = Annotated[tuple[Entry, Revision], Depends(api_revision)]
QuestionDep = Annotated[Entry, Depends(page_question)]
ApiQuestionDep = Annotated[Entry, Depends(api_question)]
AnswerDep = Annotated[Entry, Depends(page_answer)]
ApiAnswerDep = Annotated[Entry, Depends(api_answer)]
FlagDep = Annotated[Flag, Depends(page_flag)]
ApiFlagDep = Annotated[Flag, Depends(api_flag)]
AttachmentDep = Annotated[Attachment, Depends(page_attachment)]
PersonDep = Annotated[User, Depends(page_person)]
ManagedUserDep = Annotated[User, Depends(admin_page_user)]
ApiManagedUserDep = Annotated[User, Depends(admin_api_user)]
