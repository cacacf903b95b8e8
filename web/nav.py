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
    NavItem("Admin", "/admin", frozenset({Role.admin})),
)


# The administration pages, shown as a second menu on every /admin page (and on /admin itself).
ADMIN_NAV: tuple[NavItem, ...] = (
    NavItem("Users", "/admin/users", frozenset({Role.admin})),
    NavItem("Groups", "/admin/groups", frozenset({Role.admin})),
    NavItem("Topics and experts", "/admin/topics", frozenset({Role.admin})),
    NavItem("Routing", "/admin/routing", frozenset({Role.admin})),
    NavItem("Synonyms", "/admin/synonyms", frozenset({Role.admin})),
    NavItem("Webhooks", "/admin/webhooks", frozenset({Role.admin})),
    NavItem("Audit trail", "/admin/audit", frozenset({Role.admin})),
)
ADMIN_DESCRIPTIONS = {
    "/admin/users": "Create accounts, change roles, deactivate people who left.",
    "/admin/groups": "Groups of people (\"Tier 2\", \"Billing team\") that articles can be limited to.",
    "/admin/topics": "Review policy per topic (approvals, validity, who certifies) and designated experts.",
    "/admin/routing": "Reviewer auto-assignment and how new questions reach experts, per topic.",
    "/admin/synonyms": "Words customers use and what they mean in the knowledge base (\"money back\" → refund).",
    "/admin/webhooks": "Tell other tools (helpdesk, chat) when entries are certified, expire or are flagged, and when "
                       "questions are asked or answered; each delivery signed, retried and logged.",
    "/admin/audit": "Every workflow decision and administrative change: by whom, what, when and on which entry; "
                    "filter it, or download it as CSV.",
    "/knowledge-health": "Failed searches, review backlog, time to certify, content about to expire, reuse.",
}
# The sections of the /admin index: every administration page, and the health dashboard admins also use.
ADMIN_SECTIONS: tuple[NavItem, ...] = ADMIN_NAV + (
    NavItem("Knowledge health", "/knowledge-health", frozenset({Role.admin})),
)


def admin_nav_for(user: User | None, path: str) -> list[NavItem]:
    """The administration menu on administration pages, for administrators."""
    if user is None or not (path == "/admin" or path.startswith("/admin/")):
        return []
    return [item for item in ADMIN_NAV if user.roles & item.roles]


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
