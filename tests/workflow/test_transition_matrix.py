"""Every state x action x role: first the pure rules (``allowed_actions``), then the service.

The expected table below is written from the rules of the workflow, not derived from the code:

- draft -> in_review (submit), by the revision's author (or an admin);
- in_review -> approved (approve), -> changes_requested (request-changes, comment required),
  -> rejected (reject, reason required): reviewers = experts or admins, never the revision's author;
  with ``experts_only_review`` only designated topic experts or admins;
- changes_requested -> in_review (resubmit), by the author (or an admin);
- in_review / approved / changes_requested -> withdrawn (withdraw), by the author (or an admin);
- approved -> certified (certify): designated topic experts or admins, never the author;
- certified, rejected, withdrawn, superseded, discarded: nothing.
"""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import select

from kb.accounts.models import Role, User, UserRole
from kb.content import removal
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision, RevisionState
from kb.content.schemas import QuestionCreate
from kb.db import session_factory, writer
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from workflow import audit
from workflow import service as wf_service
from workflow.models import Action, CertificationStatus, Review
from workflow.transitions import ReviewContext, allowed_actions

S = RevisionState
A = Action
STATES = list(RevisionState)
ACTIONS = list(Action)
ROLES = ["author", "other_author", "agent", "expert", "topic_expert", "admin", "admin_author"]

OWNERS = {"author", "admin", "admin_author"}  # submit / resubmit / withdraw
REVIEWERS = {"expert", "topic_expert", "admin"}  # approve / request-changes / reject
STRICT_REVIEWERS = {"topic_expert", "admin"}  # ... under experts_only_review
CERTIFIERS = {"topic_expert", "admin"}

# state -> action -> roles allowed to take it. Missing pairs: nobody (wrong state).
EXPECTED: dict[RevisionState, dict[Action, set[str]]] = {
    S.draft: {A.submit: OWNERS},
    S.in_review: {A.withdraw: OWNERS, A.approve: REVIEWERS, A.request_changes: REVIEWERS, A.reject: REVIEWERS},
    S.changes_requested: {A.withdraw: OWNERS, A.resubmit: OWNERS},
    S.approved: {A.withdraw: OWNERS, A.certify: CERTIFIERS},
    S.certified: {},
    S.rejected: {},
    S.withdrawn: {},
    S.superseded: {},
    S.discarded: {},
}
SOURCES = {action: {state for state, row in EXPECTED.items() if action in row} for action in ACTIONS}
TARGET = {A.submit: S.in_review, A.withdraw: S.withdrawn, A.approve: S.approved,
          A.request_changes: S.changes_requested, A.reject: S.rejected, A.resubmit: S.in_review,
          A.certify: S.certified}
COMMENT_REQUIRED = {A.request_changes, A.reject}


def expected_roles(state: RevisionState, action: Action, *, experts_only_review: bool = False) -> set[str]:
    roles = set(EXPECTED[state].get(action, set()))
    if experts_only_review and action in (A.approve, A.request_changes, A.reject):
        roles &= STRICT_REVIEWERS
    return roles


# --- the pure function -----------------------------------------------------------------------

ROLE_SPEC = {  # name -> (roles, authored the revision and the entry, designated topic expert)
    "author": ((Role.author,), True, False),
    "other_author": ((Role.author,), False, False),
    "agent": ((Role.agent,), False, False),
    "expert": ((Role.expert,), False, False),
    "topic_expert": ((Role.expert,), False, True),
    "admin": ((Role.admin,), False, False),
    "admin_author": ((Role.admin, Role.author), True, False),
}
AUTHOR_ID, OTHER_ID = 1, 2


def _unsaved(role: str, state: RevisionState, *, kind: str = EntryKind.article.value, active: bool = True):
    roles, authored, _ = ROLE_SPEC[role]
    user_id = AUTHOR_ID if authored else 100 + ROLES.index(role)
    user = User(id=user_id, email=f"{role}@example.com", display_name=role, is_active=active)
    user.role_rows = [UserRole(user_id=user_id, role=r.value) for r in roles]
    entry = Entry(id=10, kind=kind, author_id=AUTHOR_ID, latest_revision_id=20)
    revision = Revision(id=20, entry_id=10, number=1, title="t", body="b", author_id=AUTHOR_ID, state=state.value)
    return user, entry, revision


def _ctx(role: str, **kwargs) -> ReviewContext:
    return ReviewContext(is_topic_expert=ROLE_SPEC[role][2], **kwargs)


@pytest.mark.parametrize("experts_only_review", [False, True], ids=["open-review", "experts-only"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=[a.value for a in ACTIONS])
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_allowed_actions_cell(state, action, role, experts_only_review):
    user, entry, revision = _unsaved(role, state)
    allowed = allowed_actions(user, entry, revision, _ctx(role, experts_only_review=experts_only_review))
    expected = role in expected_roles(state, action, experts_only_review=experts_only_review)
    assert (action in allowed) is expected, (
        f"{role} {'should' if expected else 'should not'} be able to {action.value} a {state.value} revision "
        f"(experts_only_review={experts_only_review}); allowed_actions gave {[a.value for a in allowed]}"
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_allowed_actions_row_matches_and_has_no_duplicates(state, role):
    user, entry, revision = _unsaved(role, state)
    allowed = allowed_actions(user, entry, revision, _ctx(role))
    assert len(allowed) == len(set(allowed))
    assert set(allowed) == {a for a in ACTIONS if role in expected_roles(state, a)}


@pytest.mark.parametrize("role", ["expert", "topic_expert", "admin"])
def test_a_reviewer_who_already_approved_cannot_approve_again(role):
    user, entry, revision = _unsaved(role, S.in_review)
    assert A.approve not in allowed_actions(user, entry, revision, _ctx(role, already_reviewed=True))


@pytest.mark.parametrize("role", sorted(CERTIFIERS))
def test_with_true_four_eyes_an_approver_may_not_certify(role):
    """Policy "the approver may not also certify": author, approver and certifier are three people."""
    user, entry, revision = _unsaved(role, S.approved)
    approved = _ctx(role, approver_cannot_certify=True, approver_ids=frozenset({user.id}))
    assert A.certify not in allowed_actions(user, entry, revision, approved)
    # Without the policy an approver may certify; with it, a certifier who did not approve still may.
    assert A.certify in allowed_actions(user, entry, revision, _ctx(role, approver_ids=frozenset({user.id})))
    assert A.certify in allowed_actions(user, entry, revision, _ctx(role, approver_cannot_certify=True,
                                                                    approver_ids=frozenset({999})))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", [S.draft, S.changes_requested], ids=["draft", "changes_requested"])
def test_only_the_latest_revision_can_be_submitted(state, role):
    user, entry, revision = _unsaved(role, state)
    allowed = allowed_actions(user, entry, revision, _ctx(role, is_latest=False))
    assert A.submit not in allowed and A.resubmit not in allowed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_questions_are_not_reviewed(state, role):
    user, entry, revision = _unsaved(role, state, kind=EntryKind.question.value)
    assert allowed_actions(user, entry, revision, _ctx(role)) == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_answers_follow_the_same_rules_as_articles(state, role):
    user, entry, revision = _unsaved(role, state, kind=EntryKind.answer.value)
    assert set(allowed_actions(user, entry, revision, _ctx(role))) == {
        a for a in ACTIONS if role in expected_roles(state, a)}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_deactivated_users_can_do_nothing(state, role):
    user, entry, revision = _unsaved(role, state, active=False)
    assert allowed_actions(user, entry, revision, _ctx(role)) == []


def test_the_entry_owner_may_withdraw_and_review_a_colleagues_revision():
    """Only the revision's author is barred from reviewing; the entry's creator, an expert, may review
    a revision a colleague wrote, and (as owner of the entry) withdraw it."""
    user, entry, revision = _unsaved("author", S.in_review)
    user.role_rows = [UserRole(user_id=AUTHOR_ID, role=Role.expert.value)]
    revision.author_id = OTHER_ID
    allowed = allowed_actions(user, entry, revision, ReviewContext(is_topic_expert=True))
    assert set(allowed) == {A.withdraw, A.approve, A.request_changes, A.reject}


# --- the service, cell by cell ---------------------------------------------------------------


def _visible(role: str, state: RevisionState) -> bool:
    """Unpublished revisions are hidden (NotFound, so their existence does not leak) from people who
    neither wrote them, nor review them, nor administer."""
    if role in ("author", "admin", "admin_author"):
        return True
    if state in (S.certified, S.superseded):
        return True
    return role in ("expert", "topic_expert") and state in (S.in_review, S.approved, S.changes_requested)


def _expected_outcome(state: RevisionState, action: Action, role: str) -> type[Exception] | None:
    if not _visible(role, state):
        return NotFound
    if state not in SOURCES[action]:
        return InvalidTransition
    if role not in expected_roles(state, action):
        return Forbidden
    return None


@pytest.fixture(scope="class")
def cell_world(engine, wf):
    """Users and one article per (state, writer), built once in a transaction that is rolled back
    at the end; each cell runs inside a savepoint that is rolled back too, so cells never see each other."""
    session = session_factory(writer(engine))()
    try:
        users = {
            "author": wf.user(session, "author", name="author"),
            "other_author": wf.user(session, "author", name="other-author"),
            "agent": wf.user(session, "agent", name="agent"),
            "expert": wf.user(session, "expert", name="expert"),
            "topic_expert": wf.user(session, "expert", name="topic-expert"),
            "admin": wf.user(session, "admin", name="admin"),
            "admin_author": wf.user(session, "admin", "author", name="admin-author"),
        }
        setup_reviewer = wf.user(session, "expert", name="setup-reviewer")
        wf.designate(session, users["topic_expert"])
        wf.designate(session, setup_reviewer)
        worlds = {}
        for state, writer_role in itertools.product(STATES, ("author", "admin_author")):
            author = users[writer_role]
            entry = wf.article(session, author, title=f"{state.value} by {writer_role}")
            revision = session.get(Revision, entry.latest_revision_id)
            if state is S.superseded:
                wf.drive(session, revision, S.certified, author=author, reviewer=setup_reviewer)
                newer = wf.new_revision(session, author, entry)
                wf.drive(session, newer, S.certified, author=author, reviewer=setup_reviewer)
                session.refresh(revision)
            elif state is S.discarded:  # a draft edit of a certified article, thrown away by its author
                wf.drive(session, revision, S.certified, author=author, reviewer=setup_reviewer)
                revision = wf.new_revision(session, author, entry)
                removal.discard_draft(session=session, actor=author, entry=entry, revision=revision)
            else:
                wf.drive(session, revision, state, author=author, reviewer=setup_reviewer)
            assert revision.state == state.value
            worlds[state, writer_role] = (entry.id, revision.id)
        session.flush()
        yield session, users, worlds
    finally:
        session.rollback()
        session.close()


class TestServiceCells:
    """``workflow.service.transition`` for every reachable state x action x role."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("action", ACTIONS, ids=[a.value for a in ACTIONS])
    @pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
    def test_transition_cell(self, cell_world, wf, state, action, role):
        tx, users, worlds = cell_world
        savepoint = tx.begin_nested()
        try:
            self._check_cell(tx, wf, users, worlds, state, action, role)
        finally:
            if savepoint.is_active:
                savepoint.rollback()
            tx.expire_all()

    @staticmethod
    def _check_cell(tx, wf, users, worlds, state, action, role):
        entry_id, revision_id = worlds[state, "admin_author" if role == "admin_author" else "author"]
        actor = users[role]
        expected = _expected_outcome(state, action, role)
        before_events = wf.events(tx, entry_id=entry_id)
        before_reviews = wf.reviews(tx, revision_id)
        before_certified = wf.entry(tx, entry_id).certified_revision_id
        assert wf.state(tx, revision_id) == state.value

        def unchanged():
            tx.expire_all()
            assert wf.state(tx, revision_id) == state.value
            assert wf.events(tx, entry_id=entry_id) == before_events
            assert wf.reviews(tx, revision_id) == before_reviews
            assert wf.entry(tx, entry_id).certified_revision_id == before_certified

        if expected is not None:
            with pytest.raises(expected):
                wf.act(tx, actor, revision_id, action, comment="A reason.")
            unchanged()
            return

        if action in COMMENT_REQUIRED:
            with pytest.raises(ValidationFailed) as refused:
                wf.act(tx, actor, revision_id, action, comment="   ")
            assert refused.value.field == "comment"
            unchanged()

        result = wf.act(tx, actor, revision_id, action, comment="A reason." if action in COMMENT_REQUIRED else "")
        tx.expire_all()
        assert result.id == revision_id
        assert wf.state(tx, revision_id) == TARGET[action].value
        events = wf.events(tx, entry_id=entry_id)
        assert events[:len(before_events)] == before_events
        assert [(e[2], e[3], e[4], e[5], e[6]) for e in events[len(before_events):]] == [
            (revision_id, actor.id, action.value, state.value, TARGET[action].value)]
        if action is A.certify:
            assert wf.entry(tx, entry_id).certified_revision_id == revision_id
            assert wf.certification(tx, entry_id).revision_id == revision_id
        else:
            assert wf.entry(tx, entry_id).certified_revision_id == before_certified


# --- scenarios -------------------------------------------------------------------------------


def _rev(db, entry: Entry) -> Revision:
    db.refresh(entry)
    return db.get(Revision, entry.latest_revision_id)


def _commit_act(db, wf, actor, revision, action, comment=""):
    try:
        result = wf.act(db, actor, revision, action, comment)
    except Exception:
        db.rollback()
        raise
    db.commit()
    return result


def test_two_required_approvals_need_two_distinct_reviewers(db, wf, cast, article, set_policy):
    set_policy(required_approvals=2)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)

    _commit_act(db, wf, cast.expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.in_review.value
    first = wf.events(db, revision_id=revision.id)[-1]
    assert first[4:7] == ("approve", "in_review", "in_review") and "1 of 2" in first[7]

    before = wf.events(db, entry_id=article.id)
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.in_review.value
    assert wf.events(db, entry_id=article.id) == before
    assert wf.reviews(db, revision.id) == [(cast.expert.id, "approve")]

    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value
    assert wf.reviews(db, revision.id) == sorted([(cast.expert.id, "approve"), (cast.topic_expert.id, "approve")])
    assert wf.events(db, revision_id=revision.id)[-1][4:7] == ("approve", "in_review", "approved")


def test_topic_override_requiring_two_approvals_beats_the_global_default(db, wf, cast, article, set_policy):
    set_policy(required_approvals=1)
    set_policy(tag=wf.TAG, required_approvals=2)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.admin, revision, A.approve)
    assert wf.state(db, revision.id) == S.in_review.value
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value


def test_the_author_never_counts_as_an_approval(db, wf, cast, set_policy):
    """An admin who wrote the revision cannot approve it, even when approvals are missing."""
    set_policy(required_approvals=2)
    entry = wf.article(db, cast.admin_author)
    db.commit()
    revision = _rev(db, entry)
    _commit_act(db, wf, cast.admin_author, revision, A.submit)
    _commit_act(db, wf, cast.expert, revision, A.approve)
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.admin_author, revision, A.approve)
    assert wf.state(db, revision.id) == S.in_review.value
    assert wf.reviews(db, revision.id) == [(cast.expert.id, "approve")]


def test_approval_certifies_policy_certifies_when_the_approver_may_certify(db, wf, cast, article, set_policy):
    set_policy(approval_certifies=True)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.certified.value
    assert wf.entry(db, article.id).certified_revision_id == revision.id
    cert = wf.certification(db, article.id)
    assert cert.revision_id == revision.id and cert.certified_by == cast.topic_expert.id
    assert cert.status == CertificationStatus.active.value
    assert [e[4:7] for e in wf.events(db, revision_id=revision.id)] == [
        ("submit", "draft", "in_review"), ("approve", "in_review", "approved"), ("certify", "approved", "certified")]


def test_approval_certifies_policy_stops_at_approved_when_the_approver_may_not_certify(
        db, wf, cast, article, set_policy):
    set_policy(approval_certifies=True)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.expert, revision, A.approve)  # an expert, but not of this topic
    assert wf.state(db, revision.id) == S.approved.value
    assert wf.entry(db, article.id).certified_revision_id is None
    assert wf.certification(db, article.id) is None
    _commit_act(db, wf, cast.topic_expert, revision, A.certify)
    assert wf.state(db, revision.id) == S.certified.value


def test_approval_certifies_waits_for_the_last_required_approval(db, wf, cast, article, set_policy):
    set_policy(approval_certifies=True, required_approvals=2)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.in_review.value
    _commit_act(db, wf, cast.topic_expert2, revision, A.approve)
    assert wf.state(db, revision.id) == S.certified.value
    assert wf.certification(db, article.id).certified_by == cast.topic_expert2.id


@pytest.mark.parametrize("where", ["global", "topic"])
def test_approver_cannot_certify_policy_needs_a_third_person(db, wf, cast, article, set_policy, where):
    set_policy(tag=None if where == "global" else wf.TAG, approver_cannot_certify=True)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value
    # The button is not offered to the approver, and the service refuses them with a sentence.
    entry = wf.entry(db, article.id)
    offered = wf_service.actions_for(session=db, actor=cast.topic_expert, entry=entry, revision=_rev(db, entry))
    assert A.certify not in offered
    before = wf.events(db, entry_id=article.id)
    with pytest.raises(Forbidden, match="someone other than the approver"):
        _commit_act(db, wf, cast.topic_expert, revision, A.certify)
    assert wf.state(db, revision.id) == S.approved.value and wf.events(db, entry_id=article.id) == before
    # Another expert of the topic (or an admin) who did not approve it certifies.
    assert A.certify in wf_service.actions_for(session=db, actor=cast.topic_expert2, entry=entry,
                                               revision=_rev(db, entry))
    _commit_act(db, wf, cast.topic_expert2, revision, A.certify)
    assert wf.state(db, revision.id) == S.certified.value
    assert wf.certification(db, article.id).certified_by == cast.topic_expert2.id


def test_approver_cannot_certify_on_one_topic_binds_an_entry_with_several(db, wf, cast, set_policy):
    set_policy(tag=wf.OTHER_TAG, approver_cannot_certify=True)
    entry = wf.article(db, cast.author, tags=(wf.TAG, wf.OTHER_TAG))
    db.commit()
    revision = _rev(db, entry)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.admin, revision, A.approve)
    with pytest.raises(Forbidden):  # admins too: the approver is not the certifier
        _commit_act(db, wf, cast.admin, revision, A.certify)
    _commit_act(db, wf, cast.topic_expert, revision, A.certify)
    assert wf.state(db, revision.id) == S.certified.value


def test_approval_cannot_certify_at_once_when_the_approver_may_not_certify(db, wf):
    from kb.accounts.actors import SYSTEM
    from workflow import policy

    with pytest.raises(ValidationFailed, match="untick one of the two") as refused:
        policy.set_policy(session=db, actor=SYSTEM, topic=None, required_approvals=1, validity_days=90,
                          reminder_days=14, approval_certifies=True, experts_only_review=False,
                          approver_cannot_certify=True)
    assert refused.value.field == "approver_cannot_certify"
    saved = policy.set_policy(session=db, actor=SYSTEM, topic=None, required_approvals=1, validity_days=90,
                              reminder_days=14, approval_certifies=False, experts_only_review=False,
                              approver_cannot_certify=True)
    assert saved.approver_cannot_certify
    assert policy.effective_policy(session=db, tag_ids=[]).approver_cannot_certify


@pytest.mark.parametrize("action", [A.approve, A.request_changes, A.reject], ids=lambda a: a.value)
@pytest.mark.parametrize("where", ["global", "topic"])
def test_experts_only_review_policy(db, wf, cast, article, set_policy, action, where):
    set_policy(tag=None if where == "global" else wf.TAG, experts_only_review=True)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    comment = "A reason." if action in COMMENT_REQUIRED else ""
    before = wf.events(db, entry_id=article.id)
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.expert, revision, action, comment)
    assert wf.state(db, revision.id) == S.in_review.value
    assert wf.events(db, entry_id=article.id) == before and wf.reviews(db, revision.id) == []
    _commit_act(db, wf, cast.topic_expert, revision, action, comment)
    assert wf.state(db, revision.id) == TARGET[action].value


def test_experts_only_review_admins_still_review(db, wf, cast, article, set_policy):
    set_policy(experts_only_review=True)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.admin, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value


def test_experts_only_review_expert_of_another_topic_is_refused(db, wf, cast, article, set_policy):
    set_policy(experts_only_review=True)
    wf.designate(db, cast.expert, wf.OTHER_TAG)
    db.commit()
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.expert, revision, A.approve)


def test_certify_needs_a_designated_expert_of_one_of_the_revisions_topics(db, wf, cast, set_policy):
    wf.designate(db, cast.expert, wf.OTHER_TAG)
    entry = wf.article(db, cast.author, tags=("refunds", wf.OTHER_TAG))
    db.commit()
    revision = _rev(db, entry)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.admin, revision, A.approve)
    with pytest.raises(Forbidden):  # expert of billing, not of this article's topics
        _commit_act(db, wf, cast.topic_expert, revision, A.certify)
    _commit_act(db, wf, cast.expert, revision, A.certify)  # expert of shipping, one of its tags
    assert wf.state(db, revision.id) == S.certified.value
    assert wf.events(db, revision_id=revision.id)[-1][8] == f"certified as expert of {wf.OTHER_TAG}"


def test_withdraw_from_every_open_state(db, wf, cast):
    for state in (S.in_review, S.approved, S.changes_requested):
        entry = wf.article(db, cast.author, title=f"Article {state.value}")
        db.commit()
        revision = wf.drive(db, _rev(db, entry), state, author=cast.author, reviewer=cast.topic_expert)
        db.commit()
        _commit_act(db, wf, cast.author, revision, A.withdraw)
        assert wf.state(db, revision.id) == S.withdrawn.value, state
        for action in ACTIONS:  # withdrawn is final for this revision
            with pytest.raises(InvalidTransition):
                _commit_act(db, wf, cast.admin, revision, action, "A reason.")


def test_request_changes_then_resubmit_then_approve_by_another_reviewer(db, wf, cast, article):
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    with pytest.raises(ValidationFailed):
        _commit_act(db, wf, cast.topic_expert, revision, A.request_changes)
    _commit_act(db, wf, cast.topic_expert, revision, A.request_changes, wf.REASON)
    assert wf.state(db, revision.id) == S.changes_requested.value
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.expert, revision, A.resubmit)
    _commit_act(db, wf, cast.author, revision, A.resubmit)
    assert wf.state(db, revision.id) == S.in_review.value
    _commit_act(db, wf, cast.topic_expert2, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value
    assert [e[4:7] for e in wf.events(db, revision_id=revision.id)] == [
        ("submit", "draft", "in_review"), ("request-changes", "in_review", "changes_requested"),
        ("resubmit", "changes_requested", "in_review"), ("approve", "in_review", "approved")]
    assert wf.events(db, revision_id=revision.id)[1][7] == wf.REASON


def test_the_reviewer_who_requested_changes_can_review_the_resubmission(db, wf, cast, article):
    """After the author answered the requested changes, the same reviewer must be able to approve
    (or reject) the resubmitted revision, and the buttons must match what the service does."""
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.request_changes, wf.REASON)
    _commit_act(db, wf, cast.author, revision, A.resubmit)
    entry = wf.entry(db, article.id)
    offered = wf_service.actions_for(session=db, actor=cast.topic_expert, entry=entry, revision=revision)
    assert A.approve in offered, offered
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    assert wf.state(db, revision.id) == S.approved.value


def test_offered_review_actions_never_fail_with_a_conflict(db, wf, cast, article, set_policy):
    """With two required approvals, the first approver is no longer offered request-changes/reject
    that the service would then refuse with 409 (one review per reviewer)."""
    set_policy(required_approvals=2)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    entry = wf.entry(db, article.id)
    offered = wf_service.actions_for(session=db, actor=cast.topic_expert, entry=entry, revision=revision)
    for action in (A.request_changes, A.reject):
        if action in offered:
            try:
                _commit_act(db, wf, cast.topic_expert, revision, action, "A reason.")
            except Conflict as exc:
                pytest.fail(f"{action.value} was offered to the first approver but the service said: {exc}")
            break


def test_a_duplicate_review_leaves_the_session_usable(db, wf, cast, article, set_policy):
    """A second approval by the same reviewer is refused and the unit of work stays usable; a later
    different decision by that reviewer replaces their review (each reviewer counts once)."""
    set_policy(required_approvals=2)
    revision = _rev(db, article)
    _commit_act(db, wf, cast.author, revision, A.submit)
    _commit_act(db, wf, cast.topic_expert, revision, A.approve)
    with pytest.raises((Conflict, Forbidden)):
        wf.act(db, cast.topic_expert, revision, A.approve)
    try:
        db.exec(select(Review.id)).all()
        assert db.get_transaction() is not None and db.get_transaction().is_active
    finally:
        db.rollback()
    _commit_act(db, wf, cast.topic_expert, revision, A.reject, "A reason.")
    reviews = db.exec(select(Review.decision).where(Review.revision_id == revision.id)).all()
    assert reviews == ["reject"]


def test_submitting_a_newer_revision_withdraws_the_older_open_one(db, wf, cast, article):
    first = _rev(db, article)
    _commit_act(db, wf, cast.author, first, A.submit)
    _commit_act(db, wf, cast.topic_expert, first, A.approve)
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    _commit_act(db, wf, cast.author, second, A.submit)
    assert wf.state(db, first.id) == S.withdrawn.value
    assert wf.state(db, second.id) == S.in_review.value
    withdraw = wf.events(db, revision_id=first.id)[-1]
    assert withdraw[3:7] == (cast.author.id, "withdraw", "approved", "withdrawn")
    assert "Replaced by revision 2" in withdraw[7]


@pytest.mark.parametrize("older_state", [S.in_review, S.changes_requested, S.approved], ids=lambda s: s.value)
def test_submitting_a_newer_revision_withdraws_any_open_older_one(db, wf, cast, article, older_state):
    first = wf.drive(db, _rev(db, article), older_state, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    _commit_act(db, wf, cast.author, second, A.submit)
    assert wf.state(db, first.id) == S.withdrawn.value
    assert wf.state(db, second.id) == S.in_review.value


def test_an_older_draft_cannot_be_submitted_once_a_newer_revision_exists(db, wf, cast, article):
    first = _rev(db, article)
    wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    before = wf.events(db, entry_id=article.id)
    with pytest.raises(Forbidden):
        _commit_act(db, wf, cast.author, first, A.submit)
    assert wf.state(db, first.id) == S.draft.value
    assert wf.events(db, entry_id=article.id) == before


def test_submitting_a_newer_revision_keeps_the_certified_one(db, wf, cast, article):
    first = wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    _commit_act(db, wf, cast.author, second, A.submit)
    assert wf.state(db, first.id) == S.certified.value
    assert wf.entry(db, article.id).certified_revision_id == first.id


def test_certifying_a_newer_revision_supersedes_the_older_one(db, wf, cast, article):
    first = wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id), title="New title", body="New body.")
    db.commit()

    def agent_sees():
        db.expire_all()
        entry = wf.entry(db, article.id)
        seen = content.visible_revision(session=db, actor=cast.agent, entry=entry)
        return seen.id if seen else None

    assert agent_sees() == first.id
    _commit_act(db, wf, cast.author, second, A.submit)
    assert agent_sees() == first.id  # agents keep the certified answer while the new one is reviewed
    assert content.visible_revision(session=db, actor=cast.author, entry=wf.entry(db, article.id)).id == second.id
    _commit_act(db, wf, cast.topic_expert2, second, A.approve)
    assert agent_sees() == first.id
    _commit_act(db, wf, cast.topic_expert, second, A.certify)

    assert wf.state(db, first.id) == S.superseded.value
    assert wf.state(db, second.id) == S.certified.value
    assert wf.entry(db, article.id).certified_revision_id == second.id
    cert = wf.certification(db, article.id)
    assert cert.revision_id == second.id and cert.certified_by == cast.topic_expert.id
    assert agent_sees() == second.id
    assert wf.events(db, revision_id=first.id)[-1][3:7] == (cast.topic_expert.id, "supersede", "certified",
                                                             "superseded")
    certified = list(db.exec(select(Revision.id).where(Revision.entry_id == article.id,
                                                       Revision.state == S.certified.value)))
    assert certified == [second.id]


def test_certify_and_supersede_are_one_atomic_change(db, wf, cast, article, monkeypatch):
    """If anything fails after the older revision was superseded, nothing of the certification stays."""
    first = wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    wf.drive(db, second, S.approved, author=cast.author, reviewer=cast.topic_expert2)
    db.commit()
    before = wf.events(db, entry_id=article.id)
    cert_before = wf.certification(db, article.id).certified_at

    real_record = audit.record

    def failing_record(**kwargs):
        if kwargs.get("action") == "certify":
            raise RuntimeError("disk full")
        return real_record(**kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        _commit_act(db, wf, cast.topic_expert, second, A.certify)
    monkeypatch.undo()

    db.expire_all()
    assert wf.state(db, first.id) == S.certified.value
    assert wf.state(db, second.id) == S.approved.value
    assert wf.entry(db, article.id).certified_revision_id == first.id
    cert = wf.certification(db, article.id)
    assert cert.revision_id == first.id and cert.certified_at == cert_before
    assert wf.events(db, entry_id=article.id) == before


def test_questions_are_not_reviewed_through_the_service(db, wf, cast):
    from kb.content.forum import ask_question

    question = ask_question(session=db, actor=cast.author, data=QuestionCreate(title="Why?", body="Tell me."))
    db.commit()
    for actor in (cast.author, cast.admin):
        with pytest.raises(InvalidTransition):
            _commit_act(db, wf, actor, question.latest_revision_id, A.submit)
    assert wf.state(db, question.latest_revision_id) == S.draft.value


# --- reverify and archive ----------------------------------------------------------------------

ENTRY_ROLES = {"author": False, "other_author": False, "agent": False, "expert": False, "topic_expert": True,
               "topic_expert2": True, "admin": True, "admin_author": False}


@pytest.mark.parametrize("operation", ["reverify", "archive"])
@pytest.mark.parametrize("role", list(ENTRY_ROLES))
def test_reverify_and_archive_rights(db, wf, cast, operation, role):
    writer = cast.admin_author if role == "admin_author" else cast.author
    certifier = cast.topic_expert if role == "topic_expert2" else cast.topic_expert2
    entry = wf.article(db, writer)
    db.commit()
    revision = wf.drive(db, _rev(db, entry), S.certified, author=writer, reviewer=certifier)
    db.commit()
    actor = getattr(cast, role)
    do = getattr(wf_service, operation)
    before = wf.events(db, entry_id=entry.id)
    cert_before = wf.certification(db, entry.id)
    version_before = cert_before.version
    entry = wf.entry(db, entry.id)

    if not ENTRY_ROLES[role]:
        with pytest.raises(Forbidden):
            try:
                do(session=db, actor=actor, entry=entry)
            finally:
                db.rollback()
        assert wf.events(db, entry_id=entry.id) == before
        assert wf.certification(db, entry.id).version == version_before
        assert wf.entry(db, entry.id).certified_revision_id == revision.id
        return

    cert = do(session=db, actor=actor, entry=entry, comment="Checked.")
    db.commit()
    events = wf.events(db, entry_id=entry.id)
    assert events[:len(before)] == before and len(events) == len(before) + 1
    assert events[-1][3] == actor.id and events[-1][4] == operation
    assert cert.version == version_before + 1
    if operation == "reverify":
        assert cert.status == CertificationStatus.active.value and cert.reverified_by == actor.id
        assert cert.valid_until >= cert_before.valid_until
        assert wf.entry(db, entry.id).certified_revision_id == revision.id
    else:
        assert cert.status == CertificationStatus.archived.value and cert.archived_by == actor.id
        assert wf.entry(db, entry.id).certified_revision_id is None


def test_archived_content_is_taken_away_from_agents(db, wf, cast, article):
    """Archive "takes certified content away from agents": not the entry, not its revision by id."""
    revision = wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    wf_service.archive(session=db, actor=cast.topic_expert, entry=wf.entry(db, article.id))
    db.commit()
    entry = wf.entry(db, article.id)
    with pytest.raises(NotFound):
        content.get_entry(session=db, actor=cast.agent, entry_id=article.id)
    assert content.visible_revision(session=db, actor=cast.agent, entry=entry) is None
    with pytest.raises(NotFound):
        content.get_revision(session=db, actor=cast.agent, revision_id=revision.id)


def test_archived_entries_can_be_neither_reverified_nor_archived_again(db, wf, cast, article):
    wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    wf_service.archive(session=db, actor=cast.admin, entry=wf.entry(db, article.id))
    db.commit()
    before = wf.events(db, entry_id=article.id)
    for do in (wf_service.reverify, wf_service.archive):
        with pytest.raises(InvalidTransition):
            try:
                do(session=db, actor=cast.admin, entry=wf.entry(db, article.id))
            finally:
                db.rollback()
    assert wf.events(db, entry_id=article.id) == before


@pytest.mark.parametrize("state", [S.draft, S.in_review, S.approved], ids=lambda s: s.value)
def test_reverify_and_archive_need_a_certified_revision(db, wf, cast, article, state):
    wf.drive(db, _rev(db, article), state, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    for do in (wf_service.reverify, wf_service.archive):
        with pytest.raises(InvalidTransition):
            try:
                do(session=db, actor=cast.admin, entry=wf.entry(db, article.id))
            finally:
                db.rollback()


def test_certifying_after_archive_leaves_one_certified_revision(db, wf, cast, article):
    """Archive, then certify a new revision: the archived one must not stay ``certified`` beside it."""
    first = wf.drive(db, _rev(db, article), S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    wf_service.archive(session=db, actor=cast.admin, entry=wf.entry(db, article.id))
    db.commit()
    second = wf.new_revision(db, cast.author, wf.entry(db, article.id))
    db.commit()
    wf.drive(db, second, S.certified, author=cast.author, reviewer=cast.topic_expert)
    db.commit()
    certified = sorted(db.exec(select(Revision.id).where(Revision.entry_id == article.id,
                                                         Revision.state == S.certified.value)))
    assert certified == [second.id], f"revision {first.id} is still certified next to {second.id}"
    assert wf.entry(db, article.id).certified_revision_id == second.id
    assert wf.certification(db, article.id).status == CertificationStatus.active.value
