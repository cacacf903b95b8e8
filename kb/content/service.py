"""Entries and revisions: the only place that writes them. Revisions are never edited."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.actors import SYSTEM, Actor, require_actor
from kb.accounts.models import User
from kb.clock import UTC, utcnow
from kb.content import access
from kb.content.diff import inline_diff
from kb.content.models import Attachment, Entry, EntryKind, Revision, RevisionState, RevisionTag, Tag
from kb.content.tags import normalise_tag
from kb.content.schemas import ArticleCreate, DiffPublic, RevisionCreate
from kb.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kb.events import ENTRY_CREATED, REVISION_CREATED, Event, publish
from kb.markdown import check_size as check_markdown_size

ATTACHMENT_LINK = "/attachments/"
_ATTACHMENT_ID = re.compile(r"/attachments/(\d+)")


def check_body_size(body: str) -> None:
    check_markdown_size(body)


# --- reading ---------------------------------------------------------------------------------


def get_entry(*, session: Session, actor: User, entry_id: int, kind: EntryKind | None = None) -> Entry:
    """The entry if this user may see it; otherwise NotFound, so its existence does not leak."""
    entry = session.get(Entry, entry_id)
    if entry is None or (kind and entry.kind != kind.value) or not _may_view(session, actor, entry):
        raise NotFound("That entry does not exist, or you cannot see it.")
    return entry


def _may_view(session: Session, actor: User, entry: Entry) -> bool:
    if access.can_view_entry(actor, entry):
        return True
    if not access.is_reviewer(actor):
        return False
    in_review = session.exec(select(Revision.id).where(Revision.entry_id == entry.id,
                                                       Revision.state.in_(access.REVIEW_STATES))).first()
    return access.can_view_entry(actor, entry, has_revision_in_review=in_review is not None)


def get_revision(*, session: Session, actor: User, revision_id: int) -> tuple[Entry, Revision]:
    revision = session.get(Revision, revision_id)
    entry = session.get(Entry, revision.entry_id) if revision else None
    if revision is None or entry is None or not access.can_view_revision(actor, entry, revision):
        raise NotFound("That revision does not exist, or you cannot see it.")
    return entry, revision


def revision_pair(*, session: Session, actor: User, entry: Entry, old_id: int, new_id: int) -> tuple[Revision, Revision]:
    """Two revisions of this entry to compare, each one this user may see."""
    _, older = get_revision(session=session, actor=actor, revision_id=old_id)
    _, newer = get_revision(session=session, actor=actor, revision_id=new_id)
    if older.entry_id != entry.id or newer.entry_id != entry.id:
        raise ValidationFailed("Both revisions must belong to this entry.")
    return older, newer


def may_view(*, session: Session, actor: User, entry: Entry) -> bool:
    """Whether this user may open the entry (what ``get_entry`` checks)."""
    return _may_view(session, actor, entry)


def visible_revision(*, session: Session, actor: User, entry: Entry) -> Revision | None:
    """Authors and admins see the latest revision; everyone else the certified one (forum: latest)."""
    return visible_revisions(session=session, actor=actor, entries=[entry])[entry.id]


def visible_revisions(*, session: Session, actor: User, entries: Iterable[Entry]) -> dict[int, Revision | None]:
    """``visible_revision`` for many entries in at most two queries (entry id -> revision): the
    latest revision when the actor may see it, else the certified one, else (a reviewer may see an
    earlier revision in review while a newer draft exists) the newest they may see."""
    entries = list(entries)
    ids = {i for e in entries for i in (e.latest_revision_id, e.certified_revision_id) if i is not None}
    by_id = {r.id: r for r in session.exec(select(Revision).where(Revision.id.in_(ids)))} if ids else {}
    result: dict[int, Revision | None] = {}
    searched: dict[int, Entry] = {}
    for entry in entries:
        latest = by_id.get(entry.latest_revision_id)
        if latest is not None and access.can_view_revision(actor, entry, latest):
            result[entry.id] = latest
        elif entry.certified_revision_id and access.audience_allows(actor, entry):
            result[entry.id] = by_id.get(entry.certified_revision_id)
        else:
            searched[entry.id] = entry
            result[entry.id] = None
    if searched:
        newest_first = session.exec(select(Revision).where(Revision.entry_id.in_(searched))
                                    .order_by(Revision.entry_id, Revision.number.desc()))
        for revision in newest_first:
            entry = searched[revision.entry_id]
            if result[entry.id] is None and access.can_view_revision(actor, entry, revision):
                result[entry.id] = revision
    return result


def latest_visible_revision(*, session: Session, actor: User, entry: Entry) -> Revision | None:
    """The newest revision of ``entry`` this user may see: what the editor builds on. Someone
    else's private draft on top is not theirs to see, so it is neither shown nor a conflict."""
    return session.exec(
        select(Revision).join(Entry, Entry.id == Revision.entry_id)
        .where(Revision.entry_id == entry.id, access.revision_visible(actor),
               Revision.state != RevisionState.discarded.value)  # thrown away: never built on again
        .order_by(Revision.number.desc()).limit(1)
    ).first()


def visible_ancestor(*, session: Session, actor: User, entry: Entry, revision: Revision,
                     reviewed_ids: frozenset[int] = frozenset()) -> Revision | None:
    """The nearest revision this one was edited from (parent, grandparent, ...) that the user may
    see: what a diff may compare with without showing a private or rejected draft.

    ``reviewed_ids``: revisions the user reviewed (they read them then), which count as visible
    even once replaced, so a reviewer sees what changed since they asked for changes."""
    parent_id, seen = revision.parent_id, set()
    if parent_id is not None:  # the entry's revisions in one query: the walk below reads them from the session
        session.exec(select(Revision).where(Revision.entry_id == entry.id)).all()
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent = session.get(Revision, parent_id)
        if parent is None or parent.entry_id != entry.id:
            return None
        if parent.id in reviewed_ids or access.can_view_revision(actor, entry, parent):
            return parent
        parent_id = parent.parent_id
    return None


def list_revisions(*, session: Session, actor: User, entry: Entry) -> list[Revision]:
    revisions = session.exec(select(Revision).where(Revision.entry_id == entry.id).order_by(Revision.number.desc()))
    return [r for r in revisions if access.can_view_revision(actor, entry, r)]


def topic_named(*, session: Session, name: str | None, actor: User | None = None) -> Tag:
    """The topic (tag) called ``name``, in any spelling of it; NotFound with a sentence otherwise.
    With ``actor``, only a topic they may see in use (a draft's tag does not exist for others)."""
    tag = session.exec(select(Tag).where(Tag.name == normalise_tag(name or ""))).first()
    if tag is not None and actor is not None and not visible_tag_names(session=session, actor=actor, names=[tag.name]):
        tag = None
    if tag is None:
        shown = (name or "").strip() or "(empty)"
        raise NotFound(f"There is no topic called “{shown}”. Topics are the tags used on articles and questions.",
                       field="topic")
    return tag


def visible_tag_names(*, session: Session, actor: User, names: Iterable[str]) -> set[str]:
    """Those of the tags ``names`` that a revision ``actor`` may see carries."""
    names = set(names)
    if not names or actor.is_admin:
        return names
    return set(session.exec(
        select(Tag.name).distinct().join(RevisionTag, RevisionTag.tag_id == Tag.id)
        .join(Revision, Revision.id == RevisionTag.revision_id).join(Entry, Entry.id == Revision.entry_id)
        .where(Tag.name.in_(names), access.revision_visible(actor))
    ))


def tags_of(*, session: Session, revision_ids: list[int]) -> dict[int, list[str]]:
    """Tags per revision, in the author's order."""
    result: dict[int, list[str]] = {rid: [] for rid in revision_ids}
    if not revision_ids:
        return result
    rows = session.exec(
        select(RevisionTag.revision_id, Tag.name)
        .join(Tag, Tag.id == RevisionTag.tag_id)
        .where(RevisionTag.revision_id.in_(revision_ids))
        .order_by(RevisionTag.revision_id, RevisionTag.position)
    )
    for revision_id, name in rows:
        result[revision_id].append(name)
    return result


def suggest_tags(*, session: Session, actor: Actor, prefix: str = "", limit: int = 10) -> list[str]:
    """Tags starting with ``prefix`` that ``actor`` may see in use, most used first: a tag that
    only a private draft carries is as private as the draft. ``SYSTEM``: every tag, used or not
    (for the administration pages' topic lists)."""
    every_tag = require_actor(actor) is SYSTEM
    usage = func.count(RevisionTag.revision_id)
    statement = select(Tag.name).join(RevisionTag, RevisionTag.tag_id == Tag.id, isouter=every_tag)
    if not every_tag:
        statement = (statement.join(Revision, Revision.id == RevisionTag.revision_id)
                     .join(Entry, Entry.id == Revision.entry_id).where(access.revision_visible(actor)))
    statement = statement.group_by(Tag.name)
    if prefix:
        statement = statement.where(Tag.name.startswith(prefix.strip().lower()))
    return list(session.exec(statement.order_by(usage.desc(), Tag.name).limit(limit)))


def diff(*, session: Session, actor: User, revision_id: int, against_id: int) -> DiffPublic:
    entry, revision = get_revision(session=session, actor=actor, revision_id=revision_id)
    other_entry, other = get_revision(session=session, actor=actor, revision_id=against_id)
    if other_entry.id != entry.id:
        raise ValidationFailed("Both revisions must belong to the same entry.", field="against")
    tags = tags_of(session=session, revision_ids=[other.id, revision.id])
    return DiffPublic(
        revision_id=revision.id,
        against_id=other.id,
        title=inline_diff(other.title, revision.title),
        tags=inline_diff(", ".join(tags[other.id]), ", ".join(tags[revision.id])),
        body=inline_diff(other.body, revision.body),
    )


def list_articles(*, session: Session, actor: User, mine: bool = False, limit: int = 50, offset: int = 0) -> list[Entry]:
    statement = select(Entry).where(Entry.kind == EntryKind.article.value, Entry.deleted_at.is_(None))
    if mine:
        statement = statement.where((Entry.author_id == actor.id) | (Entry.co_author_id == actor.id))
    elif not actor.is_admin:
        statement = statement.where((Entry.certified_revision_id.is_not(None)) | (Entry.author_id == actor.id)
                                    | (Entry.co_author_id == actor.id))
    return list(session.exec(statement.order_by(Entry.activity_at.desc()).limit(limit).offset(offset)))


# --- writing ---------------------------------------------------------------------------------


def _tag_ids(session: Session, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        tag = session.exec(select(Tag).where(Tag.name == name)).first()
        if tag is None:
            tag = Tag(name=name)
            try:
                with session.begin_nested():
                    session.add(tag)
                    session.flush()
            except IntegrityError:  # created by a concurrent request: reuse it
                tag = session.exec(select(Tag).where(Tag.name == name)).one()
        ids.append(tag.id)
    return ids


def _write_revision(
    session: Session, *, entry: Entry, number: int, parent_id: int | None, title: str, body: str, tags: list[str],
    author: User,
) -> Revision:
    check_body_size(body)
    revision = Revision(entry_id=entry.id, number=number, parent_id=parent_id, title=title, body=body,
                        author_id=author.id, state=RevisionState.draft.value)
    session.add(revision)
    session.flush()
    _add_tags_and_files(session, revision=revision, entry=entry, tags=tags, author=author)
    return revision


def _add_tags_and_files(session: Session, *, revision: Revision, entry: Entry, tags: list[str], author: User) -> None:
    for position, tag_id in enumerate(_tag_ids(session, tags)):
        session.add(RevisionTag(revision_id=revision.id, tag_id=tag_id, position=position))
    claim_attachments(session=session, body=revision.body, entry_id=entry.id, author_id=author.id)
    session.flush()


def claim_attachments(*, session: Session, body: str, entry_id: int, author_id: int) -> None:
    """Attachments the author uploaded while composing now belong to this entry."""
    if ATTACHMENT_LINK not in body:
        return
    session.exec(
        update(Attachment)
        .where(Attachment.uploader_id == author_id, Attachment.entry_id.is_(None))
        .where(Attachment.id.in_(attachment_ids(body)))
        .values(entry_id=entry_id)
    )


def attachment_ids(body: str) -> list[int]:
    """The attachments a body links to (``/attachments/<id>/<name>`` or ``/attachments/<id>``)."""
    return [int(n) for n in _ATTACHMENT_ID.findall(body)]


def create_entry(
    *, session: Session, actor: User, kind: EntryKind, title: str, body: str, tags: list[str],
    parent: Entry | None = None, promoted_from: Entry | None = None, author: User | None = None,
    co_author: User | None = None,
) -> Entry:
    """A new entry with its first revision (a draft). ``author``: who wrote the text, when not the
    actor (an answer turned into an article by someone else); ``co_author`` shares their rights."""
    check_body_size(body)
    now = utcnow()
    author = author or actor
    entry = Entry(kind=kind.value, parent_id=parent.id if parent else None, author_id=author.id,
                  co_author_id=co_author.id if co_author and co_author.id != author.id else None,
                  promoted_from_id=promoted_from.id if promoted_from else None, created_at=now, activity_at=now)
    session.add(entry)
    session.flush()
    revision = _write_revision(session, entry=entry, number=1, parent_id=None, title=title, body=body, tags=tags,
                               author=author)
    entry.latest_revision_id = revision.id
    session.flush()
    publish(session=session, event=Event(ENTRY_CREATED, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id,
                           data={"kind": kind.value}))
    return entry


def create_article(*, session: Session, actor: User, data: ArticleCreate) -> Entry:
    if not access.can_write_articles(actor):
        raise Forbidden("Only authors, experts and admins can write articles.")
    return create_entry(session=session, actor=actor, kind=EntryKind.article, title=data.title, body=data.body,
                        tags=data.tags)


def save_revision(*, session: Session, actor: User, entry: Entry, data: RevisionCreate) -> Revision:
    """A new revision from ``data.base_revision_id``; 409 if someone saved another one since."""
    if not access.can_edit(actor, entry):
        raise Forbidden("You cannot edit this entry.")
    if entry.kind != EntryKind.answer.value and not data.title:
        raise ValidationFailed("Give it a title.", field="title")
    latest = session.get(Revision, entry.latest_revision_id)
    # The editor builds on the newest revision it may see: a newer private draft of someone else is
    # neither shown nor a conflict (the new revision's parent is what its author edited).
    head = latest_visible_revision(session=session, actor=actor, entry=entry)
    if head is None:
        raise NotFound("That entry does not exist, or you cannot see it.")
    base_id = data.base_revision_id if data.base_revision_id is not None else head.id
    if base_id != head.id:
        raise Conflict(_newer_version_message(actor, head), field="base_revision_id",
                       details={"latest_revision_id": head.id, "base_revision_id": base_id,
                                "yours": head.author_id == actor.id})
    check_body_size(data.body)
    # A discarded revision keeps its number (kb.content.removal), so the next one counts from the highest.
    number = session.exec(select(func.max(Revision.number)).where(Revision.entry_id == entry.id)).one()
    revision = Revision(entry_id=entry.id, number=number + 1, parent_id=head.id, title=data.title,
                        body=data.body, author_id=actor.id, state=RevisionState.draft.value)
    # Two saves from the same base race for the same number: the unique constraint picks one,
    # and the conditional update below makes sure the entry moves forward exactly once.
    try:
        with session.begin_nested():
            session.add(revision)
            session.flush()
            moved = session.exec(
                update(Entry)
                .where(Entry.id == entry.id, Entry.latest_revision_id == latest.id)
                .values(latest_revision_id=revision.id, activity_at=utcnow())
            ).rowcount
            if moved != 1:
                raise IntegrityError("entry moved", None, Exception())
    except IntegrityError:
        session.expire(entry)
        head = latest_visible_revision(session=session, actor=actor, entry=entry)
        raise Conflict(
            _newer_version_message(actor, head) if head else
            "Someone saved a newer version while you were editing. Compare both versions and merge your changes.",
            field="base_revision_id",
            details={"latest_revision_id": head.id if head else None, "base_revision_id": base_id,
                     "yours": head is not None and head.author_id == actor.id},
        ) from None
    _add_tags_and_files(session, revision=revision, entry=entry, tags=data.tags, author=actor)
    session.refresh(entry)
    if entry.parent_id:
        touch_activity(session=session, entry_id=entry.parent_id)
    publish(session=session, event=Event(REVISION_CREATED, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id))
    return revision


def credited_author_id(*, entry: Entry, revision: Revision) -> int:
    """Who a certification of ``revision`` credits: the answer's author for an article turned from
    their forum answer (whoever edited it since), otherwise the revision's author."""
    return entry.author_id if entry.promoted_from_id is not None else revision.author_id


def _newer_version_message(actor: User, head: Revision) -> str:
    """Why an edit from an older base is refused; the same author's other tab is not "someone"."""
    if head.author_id == actor.id:
        saved = head.created_at if head.created_at.tzinfo else head.created_at.replace(tzinfo=UTC)
        return (f"You changed this draft in another tab or window at {saved.astimezone(UTC):%H:%M} UTC "
                f"(saved there as a newer version, revision {head.number}). Compare both versions and merge your changes.")
    return (f"Someone saved a newer version (revision {head.number}) while you were editing. "
            "Compare both versions and merge your changes.")


def touch_activity(*, session: Session, entry_id: int) -> None:
    session.exec(update(Entry).where(Entry.id == entry_id).values(activity_at=utcnow()))
