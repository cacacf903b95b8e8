"""Who acts: a signed-in user, or ``SYSTEM`` (the command line, demo loaders, periodic jobs).

Services take the acting user as ``actor`` and check it themselves. The operator at the command
line has no account, yet may do what an administrator does: they pass ``SYSTEM``, an explicit
administrator with no id (so audit rows name no user). ``None`` is no actor at all: a service
refuses it rather than guess that a missing argument meant "skip the checks"."""

from __future__ import annotations

from dataclasses import dataclass

from kb.accounts.models import Role, User
from kb.errors import Forbidden


@dataclass(frozen=True)
class SystemActor:
    """The command line and kb's own jobs: an administrator for authorisation, nobody for audit."""

    id: None = None
    email: str = ""
    display_name: str = "kb (command line)"
    is_active: bool = True

    @property
    def roles(self) -> set[Role]:
        return {Role.admin}

    @property
    def is_admin(self) -> bool:
        return True

    def has_role(self, *roles: Role) -> bool:
        return Role.admin in roles


SYSTEM = SystemActor()

Actor = User | SystemActor


def require_actor(actor: Actor | None) -> Actor:
    """``actor`` itself; a TypeError when it is None (a caller that forgot to say who acts)."""
    if actor is None:
        raise TypeError("actor is required: pass the signed-in user, or kb.accounts.actors.SYSTEM "
                        "for the command line and kb's own jobs.")
    return actor


def require_admin(actor: Actor | None, message: str) -> None:
    """Refuse with ``message`` (a sentence saying who may do this) unless ``actor`` is an
    administrator or ``SYSTEM``."""
    if not require_actor(actor).is_admin:
        raise Forbidden(message)
