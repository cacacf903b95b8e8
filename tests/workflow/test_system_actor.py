"""The explicit SYSTEM actor: the command line may do what an administrator does, its audit rows
name nobody, and a missing actor (None) is a programming error, never "skip the checks"."""

from __future__ import annotations

import pytest
from sqlmodel import select

from expertise import routing
from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM, require_admin
from kb.accounts.models import Role, User, UserRole
from kb.accounts.schemas import TokenCreate, UserCreate
from kb.content import service as content
from kb.errors import Forbidden
from search import synonyms
from workflow import audit, policy
from workflow.models import WorkflowEvent


@pytest.fixture(autouse=True)
def _audited():
    audit.register()


def _new_user(**overrides) -> UserCreate:
    fields = {"email": "someone@example.com", "display_name": "Someone", "roles": [Role.expert], "password": None}
    return UserCreate(**{**fields, **overrides})


def test_none_is_refused_by_every_administrative_service(db, cast, wf):
    expert = cast.topic_expert
    refusals = [
        lambda: accounts.create_user(session=db, actor=None, data=_new_user()),
        lambda: accounts.set_roles(session=db, actor=None, user=expert, roles=[Role.agent]),
        lambda: accounts.deactivate_user(session=db, actor=None, user=expert),
        lambda: accounts.set_password(session=db, actor=None, user=expert, password="a-long-password"),
        lambda: accounts.create_api_token(session=db, actor=None, user=expert, data=TokenCreate(name="x")),
        lambda: policy.designate_expert(session=db, actor=None, topic=wf.TAG, user=expert),
        lambda: policy.set_policy(session=db, actor=None, topic=None, required_approvals=1, validity_days=90,
                                  reminder_days=14, approval_certifies=False, experts_only_review=False),
        lambda: routing.set_routing(session=db, actor=None, topic=None, auto_assign=True, notify_experts=1,
                                    escalate_after_hours=12),
        lambda: synonyms.save_rule(session=db, actor=None, phrase="money back", alternatives=["refund"]),
        lambda: synonyms.list_rules(session=db, actor=None),
        lambda: content.suggest_tags(session=db, actor=None),
    ]
    for refusal in refusals:
        with pytest.raises(TypeError, match="actor is required"):
            refusal()
    assert accounts.find_user_by_email(session=db, email="someone@example.com") is None
    assert expert.is_active and expert.has_role(Role.expert)


def test_system_may_do_what_an_administrator_does_and_its_audit_rows_name_nobody(db, cast, wf):
    db.commit()
    start = db.exec(select(WorkflowEvent.id).order_by(WorkflowEvent.id.desc())).first() or 0
    user = accounts.create_user(session=db, actor=SYSTEM, data=_new_user())
    policy.designate_expert(session=db, actor=SYSTEM, topic=wf.TAG, user=user)
    routing.set_routing(session=db, actor=SYSTEM, topic=None, auto_assign=True, notify_experts=1,
                        escalate_after_hours=12)
    synonyms.save_rule(session=db, actor=SYSTEM, phrase="money back", alternatives=["refund"])
    accounts.set_password(session=db, actor=SYSTEM, user=user, password="a-new-long-password")
    _, raw = accounts.create_api_token(session=db, actor=SYSTEM, user=user, data=TokenCreate(name="helpdesk"))
    db.commit()

    events = db.exec(select(WorkflowEvent).where(WorkflowEvent.id > start, WorkflowEvent.entry_id.is_(None))
                     .order_by(WorkflowEvent.id)).all()
    assert [e.action for e in events] == ["user.create", "expert.designate", "routing.set", "synonym.save",
                                          "user.password", "token.create"]
    assert {e.actor_id for e in events} == {None}
    assert {e.signature for e in events} == {"at the command line"}
    assert "Reset by an administrator" in events[-2].comment
    assert accounts.user_for_api_token(session=db, raw=raw).id == user.id
    assert [r.updated_by for r in synonyms.list_rules(session=db, actor=SYSTEM)] == [None]


def test_system_is_an_administrator_without_an_account():
    assert SYSTEM.id is None and SYSTEM.is_admin and SYSTEM.has_role(Role.expert, Role.admin)
    assert not SYSTEM.has_role(Role.agent)
    require_admin(SYSTEM, "Only administrators.")
    with pytest.raises(Forbidden, match="Only administrators."):
        require_admin(_agent(), "Only administrators.")
    with pytest.raises(TypeError):
        require_admin(None, "Only administrators.")
    with pytest.raises(AttributeError):  # frozen: nobody turns the command line into someone else
        SYSTEM.id = 1  # type: ignore[misc]


def _agent() -> User:
    user = User(email="agent@example.com", display_name="Agent")
    user.role_rows = [UserRole(role=Role.agent.value)]
    return user
