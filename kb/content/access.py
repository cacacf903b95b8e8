"""Who may see and change content. One place, used by pages, API, search and CLI alike.

Articles are private drafts until certified: before that only their authors (the author and a
co-author, see ``Entry.co_author_id``) and admins see them,
and experts see revisions submitted for review. Forum questions and answers are visible to every
signed-in user; their verification state is shown beside them.

A deleted draft (``Entry.deleted_at``) is seen by nobody, administrators included, in any channel;
only the audit trail keeps its history (``revision_visible(..., include_deleted=True)``).
"""

from __future__ import annotations

import sqlalchemy as sa

from kb.accounts.models import Role, User
from kb.content.models import Entry, EntryKind, Revision, RevisionState

WRITER_ROLES = (Role.author, Role.expert, Role.admin)
PUBLISHED_STATES = {RevisionState.certified.value, RevisionState.superseded.value}
# Revisions experts may read because they are (or were just) in review.
REVIEW_STATES = {RevisionState.in_review.value, RevisionState.approved.value, RevisionState.changes_requested.value}
FORUM_KINDS = (EntryKind.question.value, EntryKind.answer.value)


def is_forum(entry: Entry) -> bool:
    return entry.kind in FORUM_KINDS


def is_reviewer(user: User) -> bool:
    return user.has_role(Role.expert, Role.admin)


def is_author(user: User, entry: Entry) -> bool:
    """The entry's author or co-author: they see and edit its drafts."""
    return user.id in (entry.author_id, entry.co_author_id)


def is_deleted(entry: Entry) -> bool:
    return entry.deleted_at is not None


def can_view_entry(user: User, entry: Entry, *, has_revision_in_review: bool = False) -> bool:
    if is_deleted(entry):
        return False
    if user.is_admin or is_author(user, entry) or is_forum(entry):
        return True
    return entry.certified_revision_id is not None or (has_revision_in_review and is_reviewer(user))


def can_view_revision(user: User, entry: Entry, revision: Revision) -> bool:
    if is_deleted(entry):
        return False
    if user.is_admin or revision.author_id == user.id or is_author(user, entry) or is_forum(entry):
        return True
    # Published revisions only while the entry is certified: archiving takes them away from agents.
    published = revision.state in PUBLISHED_STATES and entry.certified_revision_id is not None
    return published or (revision.state in REVIEW_STATES and is_reviewer(user))


def revision_visible(user: User, *, include_deleted: bool = False):
    """``can_view_revision`` as a SQL condition, for statements that join ``Entry`` to ``Revision``.

    Every channel that reads revisions in bulk (tag suggestions, attachments, the expert finder,
    the audit trail) filters with this, so "what may this user open?" has one answer everywhere.
    ``tests/web/test_authz_matrix.py`` checks that both forms agree on every revision of its world.
    ``include_deleted``: also revisions of deleted drafts, as whoever could see them before (for
    the administrators' audit trail, which keeps their history)."""
    alive = sa.true() if include_deleted else Entry.deleted_at.is_(None)
    if user.is_admin:
        return alive
    published = Revision.state.in_(PUBLISHED_STATES) & Entry.certified_revision_id.is_not(None)
    condition = sa.or_(Revision.author_id == user.id, Entry.author_id == user.id, Entry.co_author_id == user.id,
                       Entry.kind.in_(FORUM_KINDS), published)
    if is_reviewer(user):
        condition = sa.or_(condition, Revision.state.in_(REVIEW_STATES))
    return sa.and_(alive, condition)


def can_write_articles(user: User) -> bool:
    return user.has_role(*WRITER_ROLES)


def can_edit(user: User, entry: Entry) -> bool:
    """Articles are a wiki for writers; forum posts belong to whoever wrote them."""
    if is_deleted(entry):
        return False
    if user.is_admin:
        return True
    if entry.kind == EntryKind.article.value:
        return can_write_articles(user) and can_view_entry(user, entry)
    return entry.author_id == user.id


def can_answer(user: User) -> bool:
    return user.has_role(*WRITER_ROLES)


def can_accept(user: User, question: Entry) -> bool:
    return question.author_id == user.id or user.has_role(Role.expert, Role.admin)
