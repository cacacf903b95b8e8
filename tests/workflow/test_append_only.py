"""The audit trail and the reputation ledger are append-only in the database itself, and the audit
trail records administrative changes (users, roles, tokens, experts, policies, routing, synonyms)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import select

from expertise import routing
from expertise.models import ReputationEvent
from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import TokenCreate, UserCreate, UserUpdate
from search import synonyms
from workflow import audit, policy
from workflow.models import Action, WorkflowEvent


@pytest.fixture(autouse=True)
def _audited():
    audit.register()


@pytest.fixture
def trail(db, cast, wf):
    """A workflow event and a reputation event, committed."""
    entry = wf.article(db, cast.author)
    db.commit()
    wf.act(db, cast.author, entry.latest_revision_id, Action.submit)
    db.add(ReputationEvent(user_id=cast.author.id, kind="test", points=1))
    db.commit()
    return entry


@pytest.mark.parametrize("statement", [
    "UPDATE workflow_event SET comment = 'rewritten', actor_id = NULL",
    "DELETE FROM workflow_event",
    "UPDATE reputation_event SET points = 1000",
    "DELETE FROM reputation_event",
])
def test_raw_sql_cannot_change_or_delete_history(engine, db, trail, statement):
    """Before: the rule lived only in the ORM, and a raw UPDATE workflow_event succeeded."""
    table = statement.split()[2] if statement.startswith("DELETE") else statement.split()[1]
    with engine.connect() as conn:
        before = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
    assert before
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() == before


def test_postgresql_refuses_truncate(engine, db, trail):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has DELETE only")
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE workflow_event"))


def test_inserting_still_works(engine, db, trail):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reputation_event (user_id, kind, points, created_at) "
                          "SELECT user_id, 'again', 2, created_at FROM reputation_event"))


def _admin_events(db) -> list[tuple]:
    db.commit()
    db.expire_all()
    return [(e.action, e.target, e.actor_id) for e in
            db.exec(select(WorkflowEvent).where(WorkflowEvent.entry_id.is_(None)).order_by(WorkflowEvent.id))]


def test_administrative_changes_are_audited(db, cast, wf):
    admin = cast.admin
    start = len(_admin_events(db))
    user = accounts.create_user(session=db, actor=admin, data=UserCreate(
        email="new.person@example.com", display_name="New Person", roles=[Role.agent], password=None))
    accounts.update_user(session=db, actor=admin, user=user, data=UserUpdate(roles=[Role.agent, Role.expert]))
    policy.designate_expert(session=db, actor=admin, topic=wf.TAG, user=user)
    policy.remove_expert(session=db, actor=admin, topic=wf.TAG, user=user)
    policy.set_policy(session=db, actor=admin, topic=wf.TAG, required_approvals=2, validity_days=30,
                      reminder_days=7, approval_certifies=False, experts_only_review=True)
    policy.remove_policy(session=db, actor=admin, topic=wf.TAG)
    routing.set_routing(session=db, actor=admin, topic=None, auto_assign=True, notify_experts=2,
                        escalate_after_hours=12)
    routing.set_routing(session=db, actor=admin, topic=wf.TAG, auto_assign=False, notify_experts=1,
                        escalate_after_hours=6)
    routing.remove_routing(session=db, actor=admin, topic=wf.TAG)
    synonyms.save_rule(session=db, actor=admin, phrase="refund", alternatives=["money back"])
    synonyms.delete_rule(session=db, actor=admin, phrase="refund")
    token, _ = accounts.create_api_token(session=db, actor=user, user=user, data=TokenCreate(name="helpdesk"))
    accounts.revoke_api_token(session=db, actor=admin, token_id=token.id)
    accounts.set_password(session=db, actor=admin, user=user, password="a-new-long-password")
    accounts.deactivate_user(session=db, actor=admin, user=user)
    accounts.activate_user(session=db, actor=admin, user=user)
    events = _admin_events(db)[start:]
    who = user.email
    assert events == [
        ("user.create", who, admin.id), ("user.roles", who, admin.id),
        ("expert.designate", who, admin.id), ("expert.remove", who, admin.id),
        ("policy.set", f"policy of {wf.TAG}", admin.id), ("policy.remove", f"policy of {wf.TAG}", admin.id),
        ("routing.set", "global routing", admin.id), ("routing.set", f"routing of {wf.TAG}", admin.id),
        ("routing.remove", f"routing of {wf.TAG}", admin.id),
        ("synonym.save", "refund", admin.id), ("synonym.delete", "refund", admin.id),
        ("token.create", who, user.id), ("token.revoke", who, admin.id),
        ("user.password", who, admin.id), ("user.deactivate", who, admin.id), ("user.activate", who, admin.id),
    ]
    roles = db.exec(select(WorkflowEvent.comment).where(WorkflowEvent.action == "user.roles")).one()
    assert roles == "Roles: agent → agent, expert."
