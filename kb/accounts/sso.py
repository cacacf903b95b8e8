"""Signing in through an OpenID Connect provider (single sign-on): who the person is in kb, and their roles.

The protocol itself (discovery, the authorization-code flow with PKCE, state and nonce, the ID
token's signature, issuer, audience and expiry) is Authlib's, in ``web.oidc``; this module gets the
claims of an ID token Authlib has validated and decides what they mean for kb:

- the person is the kb user linked to the token's issuer and subject, else the one with the token's
  email (which the provider must have verified), else a new user; the link is recorded, so a later
  change of email at the provider still finds the same user;
- their roles follow the provider's groups (``KB_OIDC_ROLES_CLAIM``, mapped by ``KB_OIDC_ROLE_MAP``;
  no mapped group: agent) at every sign-in, unless an administrator has changed their roles in kb
  since (``User.roles_set_by_admin_at``); kb never loses its last active administrator this way;
- a deactivated user is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts import groups
from kb.accounts import service as accounts
from kb.accounts.actors import require_admin
from kb.accounts.models import ExternalIdentity, Role, User, UserRole
from kb.clock import utcnow
from kb.errors import Conflict, Forbidden
from kb.events import admin_action
from kb.settings import Settings

MAX_EMAIL = 254
NOT_VERIFIED = ("Your identity provider did not confirm your email address, so kb cannot tell which account is "
                "yours. Confirm your email address with your provider (or ask its administrator), then sign in again.")
NO_EMAIL = ("Your identity provider did not tell kb your email address. Ask its administrator to release the "
            "email to kb (scope \"email\"), then sign in again.")
DEACTIVATED = "Your kb account is deactivated. Ask a kb administrator to activate it again."
SIGNATURE = "through single sign-on"
LINKED_ELSEWHERE = ("The kb account with the email {email} is already linked to another account at your identity "
                    "provider. Sign in with that account, or ask a kb administrator.")


@dataclass(frozen=True)
class ProviderClaims:
    """What kb uses of a validated ID token."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str
    groups: tuple[str, ...]

    @classmethod
    def from_id_token(cls, claims: Mapping, *, roles_claim: str) -> ProviderClaims:
        verified = claims.get("email_verified")
        return cls(
            issuer=str(claims.get("iss", "")),
            subject=str(claims.get("sub", "")),
            email=str(claims.get("email") or "").strip().lower(),
            # Some providers send the boolean as a string.
            email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
            name=" ".join(str(claims.get("name") or "").split()),
            groups=_groups(claims, roles_claim),
        )


def _groups(claims: Mapping, path: str) -> tuple[str, ...]:
    """The claim at ``path`` (dots go into nested objects, as in Keycloak's ``realm_access.roles``)
    as a list of names; a single string is one group, anything else none."""
    value: object = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def roles_for_groups(groups: tuple[str, ...], role_map: Mapping[str, frozenset[str]]) -> set[Role]:
    roles = {Role(role) for group in groups for role in role_map.get(group, ())}
    return roles or {Role.agent}


def sign_in(*, session: Session, claims: ProviderClaims, settings: Settings) -> User:
    """The kb user these validated claims sign in (created or linked at their first sign-in), with
    their roles brought up to date. Raises ``Forbidden`` for an unverified email or a deactivated account."""
    if not claims.email:
        raise Forbidden(NO_EMAIL)
    if not claims.email_verified:
        raise Forbidden(NOT_VERIFIED)
    if len(claims.email) > MAX_EMAIL:
        raise Forbidden(f"Your email address is longer than kb accepts ({MAX_EMAIL} characters).")
    identity = session.exec(select(ExternalIdentity).where(
        ExternalIdentity.issuer == claims.issuer, ExternalIdentity.subject == claims.subject)).first()
    if identity is not None:
        user = accounts.get_user(session=session, user_id=identity.user_id)
        _refuse_deactivated(user)
        _follow_email_change(session, user, claims)
    else:
        user = accounts.find_user_by_email(session=session, email=claims.email)
        if user is None:
            user = _create(session, claims, settings)
        else:
            _refuse_deactivated(user)
            _refuse_other_link(session, user, claims)
        identity = ExternalIdentity(user_id=user.id, issuer=claims.issuer, subject=claims.subject)
        session.add(identity)
        _flush_or_retry(session)
    identity.email = claims.email
    identity.last_sign_in_at = utcnow()
    if user.roles_set_by_admin_at is None:
        _follow_groups(session, user, claims, settings)
    # Audiences: the provider's groups fill kb's groups of the same names (an administrator's
    # memberships stay; unknown names create groups only with KB_SSO_CREATE_GROUPS).
    groups.sync_sso_groups(session=session, user=user, group_names=list(claims.groups),
                           create_missing=settings.sso_create_groups)
    session.flush()
    _audit(session, user, action="user.sso_sign_in", target=user.email,
                 detail=f"Signed in through single sign-on ({claims.issuer}).")
    return user


def linked_identities(*, session: Session, actor, user: User) -> list[ExternalIdentity]:
    """The provider accounts linked to ``user`` (for the administrator's page about them)."""
    require_admin(actor, "Only an administrator can see how someone signs in.")
    return list(session.exec(select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
                             .order_by(ExternalIdentity.id)))


# --- inside -----------------------------------------------------------------------------------------


def _refuse_deactivated(user: User) -> None:
    if not user.is_active:
        raise Forbidden(DEACTIVATED)


def _refuse_other_link(session: Session, user: User, claims: ProviderClaims) -> None:
    """An account already linked to another subject of this provider is not taken over by email."""
    other = session.exec(select(ExternalIdentity.id).where(
        ExternalIdentity.user_id == user.id, ExternalIdentity.issuer == claims.issuer)).first()
    if other is not None:
        raise Conflict(LINKED_ELSEWHERE.format(email=user.email))


def _flush_or_retry(session: Session) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Two first sign-ins of one person at the same moment (two tabs): one of them created it.
        raise Conflict("Your account was being set up by another sign-in at the same moment. "
                       "Sign in again.") from None


def _create(session: Session, claims: ProviderClaims, settings: Settings) -> User:
    roles = roles_for_groups(claims.groups, settings.oidc_roles)
    name = (claims.name or claims.email.split("@")[0])[:120]
    user = User(email=claims.email, display_name=name, password_hash=None)
    user.role_rows = [UserRole(role=r.value) for r in sorted(roles, key=list(Role).index)]
    session.add(user)
    _flush_or_retry(session)
    _audit(session, user, action="user.create", target=user.email,
                 detail=f"Created at the first sign-in through single sign-on; roles: {_names(roles)}.")
    return user


def _follow_email_change(session: Session, user: User, claims: ProviderClaims) -> None:
    """The provider's (verified) email becomes the kb account's, unless another account has it."""
    if claims.email == user.email or accounts.find_user_by_email(session=session, email=claims.email) is not None:
        return
    before, user.email = user.email, claims.email
    _audit(session, user, action="user.email", target=user.email,
                 detail=f"Email changed from {before} at the identity provider.")


def _follow_groups(session: Session, user: User, claims: ProviderClaims, settings: Settings) -> None:
    wanted = roles_for_groups(claims.groups, settings.oidc_roles)
    current = set(user.roles)
    note = ""
    if Role.admin in current and Role.admin not in wanted and accounts.would_remove_last_admin(session, user=user):
        wanted.add(Role.admin)
        note = " Kept the administrator role: kb has no other active administrator."
    if wanted == current:
        return
    accounts.replace_role_rows(user, wanted)
    session.flush()
    _audit(session, user, action="user.roles", target=user.email,
                 detail=f"Roles: {_names(current)} → {_names(wanted)}, from the groups at the identity provider.{note}")


def _audit(session: Session, user: User, *, action: str, target: str, detail: str) -> None:
    """An event of the audit trail, by the person signing in (kb acts on the provider's word)."""
    admin_action(session=session, actor_id=user.id, action=action, target=target, detail=detail, signature=SIGNATURE)


def _names(roles) -> str:
    return ", ".join(r.value for r in sorted(roles, key=list(Role).index)) or "none"
