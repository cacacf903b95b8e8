"""Navigation by role, in one place. Each item shows when the user holds any of its roles."""

from __future__ import annotations

from dataclasses import dataclass

from kb.accounts.models import Role, User

EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[Role] = EVERYONE


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/"),
    NavItem("Search", "/search"),
    NavItem("Articles", "/articles"),
    NavItem("Forum", "/questions"),
    NavItem("Experts", "/experts"),
    NavItem("Write", "/articles/new", frozenset({Role.author, Role.expert, Role.admin})),
    NavItem("Review", "/review", frozenset({Role.expert, Role.admin})),
    NavItem("Knowledge health", "/knowledge-health", frozenset({Role.expert, Role.admin})),
    NavItem("Users", "/admin/users", frozenset({Role.admin})),
    NavItem("Topics", "/admin/topics", frozenset({Role.admin})),
    NavItem("Synonyms", "/admin/synonyms", frozenset({Role.admin})),
    NavItem("Routing", "/admin/routing", frozenset({Role.admin})),
)


def nav_for(user: User | None) -> list[NavItem]:
    if user is None:
        return []
    roles = user.roles
    return [item for item in NAV if roles & item.roles]


def current_item(items: list[NavItem], path: str) -> NavItem | None:
    """The item whose path is the longest prefix of ``path`` ("/articles/new" is Write, not Articles)."""
    matches = [i for i in items if path == i.path or (i.path != "/" and path.startswith(i.path + "/"))]
    exact = [i for i in matches if i.path == path]
    return exact[0] if exact else max(matches, key=lambda i: len(i.path), default=None)
