"""Who may see and change content. One place, used by pages, API, search and CLI alike.

Articles are private drafts until certified: before that only their authors (the author and a
co-author, see ``Entry.co_author_id``) and admins see them,
and experts see revisions submitted for review. Forum questions and answers are visible to every
signed-in user; their verification state is shown beside them.

A deleted draft (``Entry.deleted_at``) is seen by nobody, administrators included, in any channel;
only the audit trail keeps its history (``revision_visible(..., include_deleted=True)``).

Audiences: an entry limited to groups (``Entry.limited_to_groups``, its groups in
``EntryAudience``) is seen only by members of one of those groups, by its authors (author and
co-author: they chose the audience, and wrote the text) and by admins. Everything above applies
on top: an agent in the group still sees only the certified revision. Experts get no exception:
a topic's expert outside the group does not see the entry, not even a revision in review (an
administrator adds them to the group, or reviews it); an exception would leak the text to
exactly the people the limitation is about. Whoever wrote a single revision of the entry is no
exception either.
"""

from __future__ import annotations

import sqlalchemy as sa

from kb.accounts.models import GroupMember, Role, User, UserRole
from kb.content.models import Entry, EntryAudience, EntryKind, Revision, RevisionState

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


def audience_allows(user: User, entry: Entry) -> bool:
    """Whether ``user`` is in the entry's audience (everyone, unless it is limited to groups)."""
    if not entry.limited_to_groups or user.is_admin or is_author(user, entry):
        return True
    return not user.group_ids.isdisjoint(row.group_id for row in entry.audience_rows)


def audience_condition(user: User):
    """``audience_allows`` as a SQL condition on ``Entry``."""
    if user.is_admin:
        return sa.true()
    member = (sa.select(EntryAudience.entry_id)
              .join(GroupMember, GroupMember.group_id == EntryAudience.group_id)
              .where(EntryAudience.entry_id == Entry.id, GroupMember.user_id == user.id)
              .correlate_except(EntryAudience, GroupMember))
    return sa.or_(Entry.limited_to_groups.is_(False), Entry.author_id == user.id, Entry.co_author_id == user.id,
                  member.exists())


def audience_includes(user_id):
    """``audience_condition`` for a user named by a column (``Notification.user_id``): a
    condition on ``Entry`` for statements over many people's rows at once (the mailer)."""
    member = (sa.select(EntryAudience.entry_id)
              .join(GroupMember, GroupMember.group_id == EntryAudience.group_id)
              .where(EntryAudience.entry_id == Entry.id, GroupMember.user_id == user_id)
              .correlate_except(EntryAudience, GroupMember))
    admin = (sa.select(UserRole.user_id).where(UserRole.user_id == user_id, UserRole.role == Role.admin.value)
             .correlate_except(UserRole))
    return sa.or_(Entry.limited_to_groups.is_(False), Entry.author_id == user_id, Entry.co_author_id == user_id,
                  member.exists(), admin.exists())


def can_view_entry(user: User, entry: Entry, *, has_revision_in_review: bool = False) -> bool:
    if is_deleted(entry) or not audience_allows(user, entry):
        return False
    if user.is_admin or is_author(user, entry) or is_forum(entry):
        return True
    return entry.certified_revision_id is not None or (has_revision_in_review and is_reviewer(user))


def can_view_revision(user: User, entry: Entry, revision: Revision) -> bool:
    if is_deleted(entry) or not audience_allows(user, entry):
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
    return sa.and_(alive, audience_condition(user), condition)


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
