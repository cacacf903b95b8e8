"""Demo data for development: the four demo accounts (later issues add content)."""

from __future__ import annotations

from sqlmodel import Session

from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate

DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNTS = (
    ("agent@example.com", "Alex Agent", [Role.agent]),
    ("author@example.com", "Avery Author", [Role.author, Role.agent]),
    ("expert@example.com", "Erin Expert", [Role.expert, Role.author, Role.agent]),
    ("admin@example.com", "Ada Admin", [Role.admin, Role.expert, Role.author, Role.agent]),
)


def load_demo_accounts(session: Session) -> list[str]:
    """Create the demo accounts that do not exist yet; returns the emails created."""
    created = []
    for email, name, roles in DEMO_ACCOUNTS:
        if accounts.find_user_by_email(session=session, email=email) is None:
            data = UserCreate(email=email, display_name=name, roles=roles, password=DEMO_PASSWORD)
            accounts.create_user(session=session, actor=None, data=data)
            created.append(email)
    return created
