"""One rule for actions: what ``available_actions`` offers each persona is exactly what the services accept.

For every scenario and persona, each action that exists in the scenario (a transition whose source
state is the revision's, or re-verify/archive while the entry has live certified content) is taken
through the service: the offered ones succeed, the others are refused with Forbidden (or NotFound
when the persona may not even see the revision). The expected table is written from the rules, so a
rule that changes in one place only (the buttons or the service) fails here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kb.accounts.models import Role, User, UserRole
from kb.content import access
from kb.content.models import Entry, Revision
from kb.errors import DomainError, Forbidden, InvalidTransition, NotFound
from workflow import service as wf_service
from workflow.actions import ACTIONS, CertificationContext, available_actions
from workflow.expiry import as_utc, sweep
from workflow.models import Action, CertificationAction, CertificationStatus
from workflow.transitions import TRANSITIONS, ReviewContext

A, C = Action, CertificationAction
PERSONAS = ["author", "topic_expert", "other_topic_expert", "admin", "agent"]
REVIEW = {A.approve, A.request_changes, A.reject}
CURATE = {C.reverify, C.archive}

# scenario -> persona -> the actions offered. Missing personas: nothing.
EXPECTED: dict[str, dict[str, set]] = {
    "draft": {"author": {A.submit}, "admin": {A.submit}},
    "in_review": {"author": {A.withdraw}, "topic_expert": REVIEW, "other_topic_expert": REVIEW,
                  "admin": {A.withdraw} | REVIEW},
    "changes_requested": {"author": {A.withdraw, A.resubmit}, "admin": {A.withdraw, A.resubmit}},
    "approved": {"author": {A.withdraw}, "topic_expert": {A.certify}, "admin": {A.withdraw, A.certify}},
    "certified": {"topic_expert": CURATE, "admin": CURATE},
    "needs_reverification": {"topic_expert": CURATE, "admin": CURATE},
    "certified_with_new_draft": {"author": {A.submit}, "topic_expert": CURATE, "admin": {A.submit} | CURATE},
    "archived": {},
}


@dataclass
class Scenario:
    entry_id: int
    revision_id: int  # the entry's latest revision, whose buttons the entry page shows
    live_certification: bool  # re-verify and archive exist (certified, not archived)


def _arrange(db, wf, cast, name: str) -> Scenario:
    """The article in the named situation; its certifier is ``topic_expert2``, not one of the personas."""
    author, reviewer = cast.author, cast.topic_expert2
    entry = wf.article(db, author)
    db.flush()
    first = db.get(Revision, entry.latest_revision_id)
    state = {"draft": wf.S.draft, "in_review": wf.S.in_review, "changes_requested": wf.S.changes_requested,
             "approved": wf.S.approved}.get(name, wf.S.certified)
    wf.drive(db, first, state, author=author, reviewer=reviewer)
    if name == "needs_reverification":
        sweep(session=db, now=as_utc(wf.certification(db, entry.id).valid_until))
    elif name == "certified_with_new_draft":
        wf.new_revision(db, author, wf.entry(db, entry.id))
    elif name == "archived":
        wf_service.archive(session=db, actor=cast.admin, entry=wf.entry(db, entry.id))
    db.commit()
    entry = wf.entry(db, entry.id)
    return Scenario(entry.id, entry.latest_revision_id,
                    live_certification=name in ("certified", "needs_reverification", "certified_with_new_draft"))


@pytest.fixture
def personas(db, wf, cast) -> dict:
    other = wf.user(db, "expert", name="other-topic-expert")
    wf.designate(db, other, wf.OTHER_TAG, by=cast.admin)
    db.commit()
    return {"author": cast.author, "topic_expert": cast.topic_expert, "other_topic_expert": other,
            "admin": cast.admin, "agent": cast.agent}


def _take(db, wf, actor, scenario: Scenario, action) -> DomainError | None:
    """Take the action through its service and undo it: the error it raised, or None."""
    try:
        if isinstance(action, CertificationAction):
            operation = {C.reverify: wf_service.reverify, C.archive: wf_service.archive}[action]
            operation(session=db, actor=actor, entry=wf.entry(db, scenario.entry_id), comment="Checked.")
        else:
            wf_service.transition(session=db, actor=actor, revision_id=scenario.revision_id, action=action,
                                  comment="A reason.")
    except DomainError as exc:
        return exc
    finally:
        db.rollback()
    return None


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("scenario_name", list(EXPECTED))
def test_offered_actions_are_exactly_those_the_services_accept(db, wf, cast, personas, scenario_name, persona):
    scenario = _arrange(db, wf, cast, scenario_name)
    actor = personas[persona]
    entry, revision = wf.entry(db, scenario.entry_id), db.get(Revision, scenario.revision_id)
    offered = wf_service.available_actions_for(session=db, actor=actor, entry=entry, revision=revision)
    assert offered == [ACTIONS[a.action] for a in offered], "offered actions carry their catalogue entry"
    assert {a.action for a in offered} == EXPECTED[scenario_name].get(persona, set())
    # The transitions alone (what the API reports) are the same rule.
    assert wf_service.actions_for(session=db, actor=actor, entry=entry, revision=revision) == [
        a.action for a in offered if isinstance(a.action, Action)]

    existing = [a for a, (sources, _) in TRANSITIONS.items() if wf.S(revision.state) in sources]
    existing += list(CertificationAction) if scenario.live_certification else []
    sees_revision = access.can_view_revision(actor, entry, revision)
    for action in existing:
        error = _take(db, wf, actor, scenario, action)
        if ACTIONS[action] in offered:
            assert error is None, f"{persona} was offered {action.value} in {scenario_name} but got {error!r}"
        elif isinstance(action, Action) and not sees_revision:
            assert isinstance(error, NotFound), f"{persona} {action.value} in {scenario_name}: {error!r}"
        else:
            assert isinstance(error, Forbidden), f"{persona} {action.value} in {scenario_name}: {error!r}"

    if not scenario.live_certification:  # nothing to re-verify or archive: a 409 for everyone
        for action in CertificationAction:
            assert isinstance(_take(db, wf, actor, scenario, action), InvalidTransition)


def test_every_action_has_a_label_and_comment_prompts_where_the_service_needs_one():
    assert set(ACTIONS) == set(Action) | set(CertificationAction)
    assert all(a.label for a in ACTIONS.values())
    assert {a.action for a in ACTIONS.values() if a.needs_comment} == {A.request_changes, A.reject}
    assert ACTIONS[C.archive].confirm and ACTIONS[C.archive].style == "danger"


def test_questions_and_inactive_users_are_offered_nothing(wf):
    admin = User(id=1, email="admin@example.com", display_name="admin", is_active=True)
    admin.role_rows = [UserRole(user_id=1, role=Role.admin.value)]
    live = CertificationContext(status=CertificationStatus.active)
    question = Entry(id=2, kind="question", author_id=9, latest_revision_id=3)
    draft = Revision(id=3, entry_id=2, number=1, title="t", body="b", author_id=9, state=wf.S.draft.value)
    assert available_actions(user=admin, entry=question, revision=draft, review=ReviewContext(), certification=live) == []
    article = Entry(id=4, kind="article", author_id=9, latest_revision_id=3)
    assert {a.action for a in available_actions(user=admin, entry=article, revision=draft, review=ReviewContext(),
                                                certification=live)} == {A.submit} | CURATE
    admin.is_active = False
    assert available_actions(user=admin, entry=article, revision=draft, review=ReviewContext(), certification=live) == []
