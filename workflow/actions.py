"""Every action a user may take on an entry, with what the pages need to draw it.

``available_actions`` is the one answer to "what can this user do here?": the revision transitions
of ``workflow.transitions`` and the certification actions (re-verify, archive) of the entry. Pages
draw their buttons from it and the services authorise with it, so a button is never shown to
someone the service would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kb.accounts.models import Role, User
from kb.content.models import Entry, Revision
from workflow.models import Action, CertificationAction, CertificationStatus
from workflow.transitions import REVIEWED_KINDS, ReviewContext, allowed_actions

# Authoring moves a revision in or out of review, review decides on it (certify included), and
# certification acts on the entry's certified content (``/entries/{id}/...``, not ``/revisions/{id}/...``).
ActionKind = Literal["authoring", "review", "certification"]


@dataclass(frozen=True)
class AvailableAction:
    """An action as users see it: its label, whether it needs a comment, how it is drawn."""

    action: Action | CertificationAction
    label: str
    kind: ActionKind
    style: Literal["primary", "danger", ""] = ""
    comment_prompt: str = ""  # set when the action needs a comment: what to write
    confirm: str = ""  # set when the browser asks before doing it
    done: str = ""  # what the page says once it is done

    @property
    def done_message(self) -> str:
        return self.done or f"{self.label}: done."

    @property
    def needs_comment(self) -> bool:
        return bool(self.comment_prompt)


A, C = Action, CertificationAction
ACTIONS: dict[Action | CertificationAction, AvailableAction] = {a.action: a for a in (
    AvailableAction(A.submit, "Submit for review", "authoring", "primary", done="Submitted for review."),
    AvailableAction(A.resubmit, "Resubmit", "authoring", "primary", done="Resubmitted for review."),
    AvailableAction(A.withdraw, "Withdraw from review", "authoring", "danger", done="Withdrawn from review."),
    AvailableAction(A.approve, "Approve", "review", "primary", done="Approved."),
    AvailableAction(A.request_changes, "Request changes", "review", comment_prompt="Say what should change.",
                    done="Changes requested: the author has been told."),
    AvailableAction(A.reject, "Reject", "review", "danger", comment_prompt="Give a reason for rejecting.",
                    done="Rejected: the author has been told."),
    AvailableAction(A.certify, "Certify", "review", "primary", done="Certified: agents now find this version."),
    AvailableAction(C.reverify, "Re-verify: still correct", "certification", done="Re-verified: still correct."),
    AvailableAction(C.archive, "Archive", "certification", "danger",
                    confirm="Archive this entry? Agents will no longer see it.",
                    done="Archived: agents no longer see it."),
)}


def label(action: Action | CertificationAction) -> str:
    return ACTIONS[action].label


def done_message(action: Action | CertificationAction) -> str:
    """What the page says after ``action`` succeeded ("Certified: agents now find this version.")."""
    return ACTIONS[action].done_message


@dataclass(frozen=True)
class CertificationContext:
    """What the rules need to know about the entry's live certification (built by
    ``workflow.service.certification_context``)."""

    status: CertificationStatus | None = None  # None: the entry has no certified revision
    expert_of: tuple[str, ...] = ()  # the user's expert topics among the certified revision's topics
    # Authors of the certified text (``workflow.policy.contributors`` of the certified revision).
    contributor_ids: frozenset[int] = frozenset()


def certification_allowed(user: User, certification: CertificationContext) -> bool:
    """Re-verify and archive: live (not archived) certified content, by an expert of its topics or an
    admin who wrote none of it (four eyes, as for certifying)."""
    if certification.status in (None, CertificationStatus.archived):
        return False
    if user.id in certification.contributor_ids:
        return False
    return bool(certification.expert_of) or user.has_role(Role.admin)


def available_actions(*, user: User, entry: Entry, revision: Revision | None = None,
                      review: ReviewContext | None = None,
                      certification: CertificationContext | None = None) -> list[AvailableAction]:
    """What ``user`` may do now: the transitions of ``revision`` (when given with its ``review``
    context) and the certification actions of the entry (when given its ``certification`` context)."""
    if entry.kind not in REVIEWED_KINDS or not user.is_active:
        return []
    offered: list[Action | CertificationAction] = []
    if revision is not None and review is not None:
        offered += allowed_actions(user, entry, revision, review)
    if certification is not None and certification_allowed(user, certification):
        offered += list(CertificationAction)
    return [ACTIONS[action] for action in offered]


def certification_refusal(user: User, certification: CertificationContext) -> str:
    """Why ``user`` may not re-verify or archive (only called when they may not)."""
    if user.id in certification.contributor_ids:
        return "You contributed to this text, so another expert or an administrator must do that."
    return "Only experts of this topic (not the author), or administrators, can do that."
