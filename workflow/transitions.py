"""The state machine in one place: which action leads from which state to which, and who may take it.

``allowed_actions`` answers "which transitions may this user take on this revision?"; the pages and
the services ask ``workflow.actions.available_actions``, which adds the entry's certification
actions and what users see of each action.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.accounts.models import Role, User
from kb.content.models import Entry, EntryKind, Revision, RevisionState
from workflow.models import Action

S = RevisionState
# action -> (states it may start from, state it leads to). Approve may stay in review until enough
# reviewers approved; certify also supersedes the entry's previous certified revision.
TRANSITIONS: dict[Action, tuple[frozenset[RevisionState], RevisionState]] = {
    Action.submit: (frozenset({S.draft}), S.in_review),
    Action.withdraw: (frozenset({S.in_review, S.approved, S.changes_requested}), S.withdrawn),
    Action.approve: (frozenset({S.in_review}), S.approved),
    Action.request_changes: (frozenset({S.in_review}), S.changes_requested),
    Action.reject: (frozenset({S.in_review}), S.rejected),
    Action.resubmit: (frozenset({S.changes_requested}), S.in_review),
    Action.certify: (frozenset({S.approved}), S.certified),
}
REVIEW_ACTIONS = frozenset({Action.approve, Action.request_changes, Action.reject})
REVIEWED_KINDS = frozenset({EntryKind.article.value, EntryKind.answer.value})


@dataclass(frozen=True)
class ReviewContext:
    """What the rules need to know beyond the user, entry and revision."""

    experts_only_review: bool = False
    is_topic_expert: bool = False  # expert of one of the entry's topics (designated, or by score per policy)
    already_reviewed: bool = False  # this user already reviewed this revision
    is_latest: bool = True
    # Authors of the text since the last certified revision (``workflow.policy.contributors``).
    contributor_ids: frozenset[int] = frozenset()
    # Policy "the approver may not also certify", and who approved this revision.
    approver_cannot_certify: bool = False
    approver_ids: frozenset[int] = frozenset()


def is_owner(user: User, entry: Entry, revision: Revision) -> bool:
    return user.id in (revision.author_id, entry.author_id)


def contributed(user: User, revision: Revision, ctx: ReviewContext) -> bool:
    """Whether the user wrote any of this text since it was last certified (four eyes)."""
    return revision.author_id == user.id or user.id in ctx.contributor_ids


def may_review(user: User, revision: Revision, ctx: ReviewContext) -> bool:
    """Reviewers are experts (or admins), never a contributor of the text; a policy may require topic experts."""
    if contributed(user, revision, ctx):
        return False
    if user.has_role(Role.admin):
        return True
    if not user.has_role(Role.expert):
        return False
    return ctx.is_topic_expert or not ctx.experts_only_review


def approved_it(user: User, ctx: ReviewContext) -> bool:
    """Whether the policy keeps this user from certifying because they approved the revision."""
    return ctx.approver_cannot_certify and user.id in ctx.approver_ids


def may_certify(user: User, revision: Revision, ctx: ReviewContext) -> bool:
    """Experts of one of the entry's topics (designated or, if the policy says so, high-scoring), or
    admins; never for text they contributed to, nor (when the policy says so) after approving it."""
    if contributed(user, revision, ctx) or approved_it(user, ctx):
        return False
    return ctx.is_topic_expert or user.has_role(Role.admin)


def allowed_actions(user: User, entry: Entry, revision: Revision, ctx: ReviewContext) -> list[Action]:
    if entry.kind not in REVIEWED_KINDS or not user.is_active:
        return []
    state = RevisionState(revision.state)
    allowed = []
    for action, (sources, _) in TRANSITIONS.items():
        if state not in sources:
            continue
        if action is Action.submit:
            ok = ctx.is_latest and (is_owner(user, entry, revision) or user.has_role(Role.admin))
        elif action is Action.withdraw:
            ok = is_owner(user, entry, revision) or user.has_role(Role.admin)
        elif action is Action.resubmit:
            ok = ctx.is_latest and (is_owner(user, entry, revision) or user.has_role(Role.admin))
        elif action in REVIEW_ACTIONS:
            ok = may_review(user, revision, ctx) and not (action is Action.approve and ctx.already_reviewed)
        else:  # certify
            ok = may_certify(user, revision, ctx)
        if ok:
            allowed.append(action)
    return allowed
