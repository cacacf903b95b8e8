"""Account operations. The only place that changes users, sessions and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts import security
from kb.accounts.actors import SYSTEM, Actor, require_actor, require_admin
from kb.accounts.models import (ApiToken, LoginAttempt, LoginThrottle, PasswordLink, Role, User, UserRole,
                               UserSession)
from kb.accounts.schemas import MIN_PASSWORD_LENGTH, TokenCreate, UserCreate, UserUpdate
from kb.clock import utcnow
from kb.errors import Conflict, Forbidden, NotFound, Throttled, Unauthorized, ValidationFailed
from kb.events import admin_action

SESSION_PREFIX = "kbs"
API_TOKEN_PREFIX = "kb"


def _require_admin(actor: Actor) -> None:
    require_admin(actor, "Only an administrator can manage users.")


def _audit(session: Session, actor: Actor, action: str, target: str, detail: str = "") -> None:
    admin_action(session=session, actor_id=actor.id, action=action, target=target, detail=detail)


def _role_names(roles) -> str:
    return ", ".join(r.value for r in sorted({Role(r) for r in roles}, key=list(Role).index)) or "none"


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    return user


def find_user_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def list_users(*, session: Session, actor: Actor) -> list[User]:
    _require_admin(actor)
    return list(session.exec(select(User).order_by(User.display_name)))


def create_user(*, session: Session, actor: Actor, data: UserCreate) -> User:
    _require_admin(actor)
    if find_user_by_email(session=session, email=data.email) is not None:
        raise Conflict(f"A user with the email {data.email} already exists.", field="email")
    user = User(
        email=data.email,
        display_name=data.display_name,
        password_hash=security.hash_password(data.password) if data.password else None,
    )
    user.role_rows = [UserRole(role=r.value) for r in sorted(set(data.roles), key=list(Role).index)]
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request created the same email between our check and the insert.
        raise Conflict(f"A user with the email {data.email} already exists.", field="email") from None
    _audit(session, actor, "user.create", user.email, f"Roles: {_role_names(data.roles)}.")
    return user


def update_user(*, session: Session, actor: Actor, user: User, data: UserUpdate) -> User:
    _require_admin(actor)
    if data.display_name is not None:
        name = " ".join(data.display_name.split())
        if not name:
            raise ValidationFailed("Enter a display name.", field="display_name")
        user.display_name = name
    if data.roles is not None:
        set_roles(session=session, actor=actor, user=user, roles=data.roles)
    if data.is_active is not None and data.is_active != user.is_active:
        (activate_user if data.is_active else deactivate_user)(session=session, actor=actor, user=user)
    session.flush()
    return user


def set_roles(*, session: Session, actor: Actor, user: User, roles: list[Role]) -> User:
    _require_admin(actor)
    wanted = {Role(r) for r in roles}
    if not wanted:
        raise ValidationFailed("Give the user at least one role.", field="roles")
    if actor.id == user.id and Role.admin not in wanted:
        raise Conflict("You cannot remove your own administrator role; ask another administrator.")
    current = set(user.roles)
    if Role.admin in current and Role.admin not in wanted:
        _keep_an_active_admin(session, actor=actor, losing=user)
    replace_role_rows(user, wanted)
    if wanted != current:
        # Chosen by an administrator: single sign-on no longer replaces them with the provider's groups.
        user.roles_set_by_admin_at = utcnow()
    session.flush()
    if wanted != current:
        _audit(session, actor, "user.roles", user.email, f"Roles: {_role_names(current)} → {_role_names(wanted)}.")
    return user


def replace_role_rows(user: User, wanted: set[Role]) -> None:
    """Give ``user`` exactly the roles ``wanted`` (no checks: callers decide who may)."""
    current = {Role(r.role): r for r in user.role_rows}
    for role, row in current.items():
        if role not in wanted:
            user.role_rows.remove(row)
    for role in wanted - current.keys():
        user.role_rows.append(UserRole(role=role.value))


def roles_from_provider_again(*, session: Session, actor: Actor, user: User) -> User:
    """Undo an administrator's choice of roles: the next sign-in through single sign-on sets them
    from the provider's groups again."""
    _require_admin(actor)
    if user.roles_set_by_admin_at is not None:
        user.roles_set_by_admin_at = None
        session.flush()
        _audit(session, actor, "user.roles_from_provider", user.email,
               "Roles follow the identity provider's groups again from the next sign-in.")
    return user


def would_remove_last_admin(session: Session, *, user: User) -> bool:
    """Whether taking the administrator role from ``user`` would leave kb without an active one
    (rows locked as for an administrator's change, so racing changes queue)."""
    try:
        _keep_an_active_admin(session, actor=SYSTEM, losing=user)
    except Conflict:
        return True
    return False


def _keep_an_active_admin(session: Session, *, actor: Actor, losing: User) -> None:
    """Refuse to take away the last active administrator, also when two administrators remove each
    other at the same moment: every active administrator's account row is locked (in id order, so
    racing requests queue instead of deadlocking), then a new statement counts who would be left, so
    it sees what a request that held the locks before committed. SQLite writers are serialised anyway."""
    admin_ids = select(UserRole.user_id).where(UserRole.role == Role.admin.value)
    session.exec(select(User.id).where(User.is_active.is_(True), User.id.in_(admin_ids))
                 .order_by(User.id).with_for_update()).all()
    if actor is not SYSTEM and session.exec(
            select(User.id).where(User.id == actor.id, User.is_active.is_(True), User.id.in_(admin_ids))).first() is None:
        raise Forbidden("You are no longer an administrator; ask one to make this change.")
    remaining = session.exec(select(func.count()).select_from(User).where(
        User.is_active.is_(True), User.id.in_(admin_ids), User.id != losing.id)).one()
    if remaining == 0:
        raise Conflict(f"kb needs at least one active administrator: make someone else an administrator "
                       f"before {losing.display_name} stops being one.")


def deactivate_user(*, session: Session, actor: Actor, user: User) -> User:
    _require_admin(actor)
    if actor.id == user.id:
        raise Conflict("You cannot deactivate your own account.")
    if user.is_admin and user.is_active:
        _keep_an_active_admin(session, actor=actor, losing=user)
    was_active, user.is_active = user.is_active, False
    ended = sign_out_everywhere(session=session, user=user)
    if was_active:
        _audit(session, actor, "user.deactivate", user.email,
               f"Signed out of {ended.sessions} sessions; {ended.tokens} API tokens revoked.")
    return user


@dataclass(frozen=True)
class SignedOut:
    """What ``sign_out_everywhere`` ended."""

    sessions: int
    tokens: int


def sign_out_everywhere(*, session: Session, user: User) -> SignedOut:
    """End every browser session and revoke every API token of ``user``, at once rather than when
    they expire. Sessions live in the database and are looked up on every request, so a deleted
    one stops working with the next request (no cookie stays valid on its own). A link to set the
    password that is still on its way stops working too: it would let its holder back in."""
    sessions = session.exec(delete(UserSession).where(UserSession.user_id == user.id)).rowcount
    session.exec(delete(PasswordLink).where(PasswordLink.user_id == user.id))
    tokens = session.exec(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount
    session.flush()
    return SignedOut(sessions=sessions, tokens=tokens)


def activate_user(*, session: Session, actor: Actor, user: User) -> User:
    _require_admin(actor)
    if not user.is_active:
        user.is_active = True
        session.flush()
        _audit(session, actor, "user.activate", user.email)
    return user


def check_password_rules(password: str) -> None:
    """Refuse a password kb does not accept, with the rule as the message."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password")


def set_password(*, session: Session, actor: Actor, user: User, password: str, how: str | None = None) -> SignedOut:
    """A new password ends every session, API token and pending password link of the user: whoever
    knew the old one is out. The caller starts a new session for the browser that made the change.
    ``how`` says in the audit trail how it was set, when not by the user or an administrator."""
    if require_actor(actor).id != user.id:
        _require_admin(actor)
    check_password_rules(password)
    user.password_hash = security.hash_password(password)
    session.flush()
    ended = sign_out_everywhere(session=session, user=user)
    who = how or ("Changed by the user" if actor.id == user.id else "Reset by an administrator")
    _audit(session, actor, "user.password", user.email,
           f"{who}; {ended.sessions} sessions ended, {ended.tokens} API tokens revoked.")
    return ended


# --- signing in -----------------------------------------------------------------------------


def count_attempt(session: Session, *, key: str, limit: int, now, since) -> bool:
    """Count one sign-in attempt against ``key`` unless ``limit`` attempts were already counted
    since the last success (within the window): one conditional update, so parallel attempts
    queue on the row and exactly ``limit`` of them get through. False: throttled. Also counts
    requests for password links (keys of their own)."""
    counted = session.exec(
        update(LoginThrottle)
        .where(LoginThrottle.key == key,
               (LoginThrottle.attempts < limit) | (LoginThrottle.last_attempt_at <= since))
        .values(attempts=case((LoginThrottle.last_attempt_at <= since, 1), else_=LoginThrottle.attempts + 1),
                last_attempt_at=now)
    ).rowcount
    if counted == 1:
        return True
    if session.get(LoginThrottle, key) is not None:
        return False
    try:
        with session.begin_nested():  # the first attempt for this key; a racing one may insert it too
            session.add(LoginThrottle(key=key, attempts=1, last_attempt_at=now))
            session.flush()
        return True
    except IntegrityError:
        return count_attempt(session, key=key, limit=limit, now=now, since=since)


def authenticate(
    *, session: Session, email: str, password: str, ip: str = "", max_failures: int = 5, lockout_minutes: int = 15
) -> User:
    """Check a password; after ``max_failures`` failures in a row the email is locked for a while
    (an address after four times as many, whatever the emails)."""
    email = email.strip().lower()
    now = utcnow()
    since = now - timedelta(minutes=lockout_minutes)
    keys = ([f"ip:{ip}"] if ip else []) + [f"email:{email}"]  # always in this order: no deadlock
    limits = {f"ip:{ip}": max_failures * 4, f"email:{email}": max_failures}
    for key in keys:
        if not count_attempt(session, key=key, limit=limits[key], now=now, since=since):
            raise Throttled(
                f"Too many failed sign-in attempts. Wait {lockout_minutes} minutes and try again, "
                "or ask an administrator to reset your password.",
                retry_after=lockout_minutes * 60,
            )
    user = find_user_by_email(session=session, email=email)
    ok = security.verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        session.add(LoginAttempt(email=email, ip=ip, succeeded=False, at=now))
        session.flush()
        raise Unauthorized("The email or password is not right.")
    session.add(LoginAttempt(email=email, ip=ip, succeeded=True, at=now))
    session.exec(update(LoginThrottle).where(LoginThrottle.key.in_(keys)).values(attempts=0))
    session.flush()
    return user


def start_session(
    *, session: Session, user: User, max_age_hours: int, user_agent: str = "", replaces: str | None = None
) -> str:
    """A new session at every sign-in; the one the browser had before stops working."""
    if replaces:
        end_session(session=session, token=replaces)
    token = security.new_token(SESSION_PREFIX)
    session.add(
        UserSession(
            token_hash=security.token_hash(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=max_age_hours),
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return token


def end_session(*, session: Session, token: str) -> None:
    session.exec(delete(UserSession).where(UserSession.token_hash == security.token_hash(token)))
    session.flush()


def user_for_session(*, session: Session, token: str) -> User | None:
    row = session.exec(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == security.token_hash(token), UserSession.expires_at > utcnow())
    ).first()
    return row if row is not None and row.is_active else None


# --- API tokens -----------------------------------------------------------------------------


def create_api_token(*, session: Session, actor: Actor, user: User, data: TokenCreate) -> tuple[ApiToken, str]:
    if require_actor(actor) is not SYSTEM and actor.id != user.id:
        raise Forbidden("You can only create API tokens for yourself.")
    if not user.is_active:
        raise Conflict("This account is deactivated; it cannot have API tokens.")
    raw = security.new_token(API_TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=data.name.strip(), token_hash=security.token_hash(raw), prefix=raw[:10])
    session.add(token)
    session.flush()
    _audit(session, actor, "token.create", user.email, f"API token “{token.name}” ({token.prefix}…).")
    return token, raw


def list_api_tokens(*, session: Session, actor: User, user: User) -> list[ApiToken]:
    if actor.id != user.id:
        _require_admin(actor)
    return list(
        session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc()))
    )


def revoke_api_token(*, session: Session, actor: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not actor.is_admin):
        raise NotFound("That API token does not exist.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        owner = session.get(User, token.user_id)
        _audit(session, actor, "token.revoke", owner.email if owner else str(token.user_id),
               f"API token “{token.name}” ({token.prefix}…).")
    return token


def user_for_api_token(*, session: Session, raw: str) -> User | None:
    use = api_token_use(session=session, raw=raw)
    return use.user if use is not None else None


TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenUse:
    user: User
    needs_touch: bool  # the token's recorded last use is older than TOKEN_TOUCH_INTERVAL


def api_token_use(*, session: Session, raw: str) -> TokenUse | None:
    """The active user of a valid API token, and whether its last use should be recorded; None for
    an unknown or revoked token or a deactivated user. One query: every API request asks."""
    row = session.exec(
        select(User, ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == security.token_hash(raw), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not row[0].is_active:
        return None
    user, last = row
    return TokenUse(user=user, needs_touch=last is None or last < utcnow() - TOKEN_TOUCH_INTERVAL)


def touch_api_token(*, session: Session, raw: str) -> None:
    """Record when a token was last used (at most once a minute: an API call is not a write)."""
    now = utcnow()
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == security.token_hash(raw),
               (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - TOKEN_TOUCH_INTERVAL))
        .values(last_used_at=now)
    )
