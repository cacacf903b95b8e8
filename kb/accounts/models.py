"""Tables for accounts. Emails are stored lower-cased, which makes them unique case-insensitively."""


import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from kb.clock import utcnow


class Role(str, enum.Enum):
    agent = "agent"
    author = "author"
    expert = "expert"
    admin = "admin"


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=False)
    display_name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    # When an administrator last changed this person's roles in kb: from then on, signing in through
    # single sign-on leaves their roles alone (None: roles follow the identity provider's groups).
    roles_set_by_admin_at: datetime | None = None

    role_rows: list["UserRole"] = Relationship(
        back_populates="user",
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"},
    )
    # Loaded on first use only: most checks never need it (``kb.content.access.audience_allows``
    # asks only about entries limited to groups).
    group_rows: list["GroupMember"] = Relationship(
        sa_relationship_kwargs={"lazy": "select", "cascade": "all, delete-orphan"},
    )

    @property
    def roles(self) -> set[Role]:
        return {Role(r.role) for r in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        mine = self.roles
        return any(r in mine for r in roles)

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles

    @property
    def group_ids(self) -> frozenset[int]:
        """The groups this person belongs to (``UserGroup`` ids), however they joined."""
        return frozenset(row.group_id for row in self.group_rows)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(primary_key=True, max_length=16)

    user: "User" = Relationship(back_populates="role_rows")


class UserSession(SQLModel, table=True):
    """A server-side browser session; the cookie holds a signed random token, we keep its hash."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    user_agent: str = Field(default="", max_length=300)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class LoginAttempt(SQLModel, table=True):
    """Failed and successful sign-ins, kept for throttling."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_email_at", "email", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    ip: str = Field(default="", max_length=64)
    succeeded: bool = False
    at: datetime = Field(default_factory=utcnow)


class LoginThrottle(SQLModel, table=True):
    """Sign-in attempts counted per email and per address, updated atomically: an attempt is
    counted (a conditional update) before its password is checked, so a burst of parallel attempts
    cannot all pass the check before any of them is recorded."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=300)  # "email:<address>" or "ip:<address>"
    attempts: int = 0  # counted attempts since the last success, within the lockout window
    last_attempt_at: datetime = Field(default_factory=utcnow)


class PasswordLink(SQLModel, table=True):
    """A one-time link to set a password: an invitation to a new account or a reset. The link's
    token is random (256 bits) and kept only as its hash; the row is deleted when the link is used,
    when a newer link is made for the same person, and when their password changes or they are
    signed out everywhere, so at most one link per person works at a time."""

    __tablename__ = "password_link"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    purpose: str = Field(max_length=16)  # "invite" | "reset"
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    # Who asked for it: an administrator, the person themselves (forgot password); None: command line.
    requested_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class ExternalIdentity(SQLModel, table=True):
    """A person's account at an OpenID Connect provider, linked to their kb account at their first
    sign-in through it. ``issuer`` and ``subject`` (the ID token's ``iss`` and ``sub``) never change for
    one account at the provider, so a later change of email there still finds the same kb user."""

    __tablename__ = "external_identity"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    issuer: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=254)  # as the provider last said it
    created_at: datetime = Field(default_factory=utcnow)
    last_sign_in_at: datetime = Field(default_factory=utcnow)
class MembershipSource(str, enum.Enum):
    admin = "admin"  # added on /admin/groups (or the API)
    sso = "sso"  # from the identity provider's claims at sign-in (``kb.accounts.groups.sync_sso_groups``)


class UserGroup(SQLModel, table=True):
    """A group of people ("Tier 2", "Billing team") that entries can be limited to (audiences).
    Names are unique whatever their case: ``name_key`` is the name lower-cased."""

    __tablename__ = "user_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    name_key: str = Field(max_length=80, sa_column_kwargs={"unique": True})
    description: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_member"

    group_id: int = Field(foreign_key="user_group.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE")
    source: str = Field(default=MembershipSource.admin.value, max_length=8)
    added_at: datetime = Field(default_factory=utcnow)
