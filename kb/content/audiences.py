"""Audiences: limiting an article to groups of people (``kb.accounts.groups``).

Who may then see it is decided with everything else in ``kb.content.access`` (``audience_allows``).
Setting the audience is the author's (or co-author's) or an administrator's action, applied at
once to every revision, certified or not: it changes who reads the entry, not what it says, so it
needs no review. It is recorded in the entry's audit trail and re-indexes the entry (both through
``ENTRY_AUDIENCE_CHANGED``). Forum questions and answers stay open to everyone signed in.
"""

from __future__ import annotations

from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_actor
from kb.accounts.models import UserGroup
from kb.content import access
from kb.content.models import Entry, EntryAudience, EntryKind
from kb.errors import Forbidden, ValidationFailed
from kb.events import ENTRY_AUDIENCE_CHANGED, Event, publish

EVERYONE = "Everyone"


def can_set_audience(user, entry: Entry) -> bool:
    return (entry.kind == EntryKind.article.value and not access.is_deleted(entry)
            and (user.is_admin or access.is_author(user, entry)))


def audience_of(*, session: Session, entry: Entry) -> list[UserGroup]:
    """The groups the entry is limited to, by name ([] when everyone may see it)."""
    if not entry.limited_to_groups:
        return []
    return list(session.exec(select(UserGroup).join(EntryAudience, EntryAudience.group_id == UserGroup.id)
                             .where(EntryAudience.entry_id == entry.id).order_by(UserGroup.name_key)))


def describe(entry: Entry, groups: list[UserGroup]) -> str:
    """"Everyone", the groups' names, or (its only group deleted) who is left."""
    if not entry.limited_to_groups:
        return EVERYONE
    return ", ".join(g.name for g in groups) if groups else "Only its authors and administrators"


def set_audience(*, session: Session, actor: Actor, entry: Entry, group_ids: list[int],
                 public: bool | None = None) -> list[UserGroup]:
    """Limit ``entry`` to these groups ([]: everyone signed in), and (``public`` not None) mark it
    customer-facing or not: ``kb publish`` writes the certified text of public articles that are
    not limited to groups into the static help centre. Returns the new audience."""
    actor = require_actor(actor)
    if not can_set_audience(actor, entry):
        if entry.kind != EntryKind.article.value:
            raise ValidationFailed("Only articles can be limited to groups; the forum is open to everyone.")
        raise Forbidden("Only the article's author or an administrator can choose who sees it.")
    wanted = sorted(set(group_ids))
    groups = list(session.exec(select(UserGroup).where(UserGroup.id.in_(wanted)).order_by(UserGroup.name_key))) \
        if wanted else []
    if len(groups) != len(wanted):
        raise ValidationFailed("One of the chosen groups no longer exists; choose again.", field="groups")
    before = sorted(row.group_id for row in entry.audience_rows)
    public = entry.public if public is None else bool(public)
    if before == wanted and entry.limited_to_groups == bool(wanted) and entry.public == public:
        return groups
    data = {"groups": [g.name for g in groups]}
    if entry.public != public:
        data["public"] = public
    entry.audience_rows = [EntryAudience(entry_id=entry.id, group_id=g.id) for g in groups]
    entry.limited_to_groups = bool(groups)
    entry.public = public
    session.add(entry)
    session.flush()
    publish(session=session, event=Event(ENTRY_AUDIENCE_CHANGED, entry_id=entry.id, actor_id=actor.id, data=data))
    return groups


def set_audience_by_names(*, session: Session, actor: Actor, entry: Entry, names: list[str],
                          public: bool | None = None) -> list[UserGroup]:
    """``set_audience`` with the groups named (whatever the case), as the API takes them."""
    keys = {" ".join(n.split()).lower() for n in names if n and n.strip()}
    found = list(session.exec(select(UserGroup).where(UserGroup.name_key.in_(keys)))) if keys else []
    missing = keys - {g.name_key for g in found}
    if missing:
        raise ValidationFailed(f"There is no group called “{sorted(missing)[0]}”; GET /api/v1/groups lists them.",
                               field="groups")
    return set_audience(session=session, actor=actor, entry=entry, group_ids=[g.id for g in found], public=public)


def audience_names(*, session: Session, entries: list[Entry]) -> dict[int, list[str]]:
    """The audience of each limited entry, by name, in one query (for lists in the API)."""
    limited = [e.id for e in entries if e.limited_to_groups]
    names: dict[int, list[str]] = {entry_id: [] for entry_id in limited}
    if limited:
        for entry_id, name in session.exec(
                select(EntryAudience.entry_id, UserGroup.name).join(UserGroup, UserGroup.id == EntryAudience.group_id)
                .where(EntryAudience.entry_id.in_(limited)).order_by(UserGroup.name_key)):
            names[entry_id].append(name)
    return names


def group_deleted(*, session: Session, actor: Actor, entry_ids: list[int]) -> None:
    """A group was deleted: the entries limited to it keep their other groups (or are left to
    their authors and admins). Re-index them and say so in their audit trails."""
    for entry_id in entry_ids:
        entry = session.get(Entry, entry_id)
        if entry is None:
            continue
        session.refresh(entry, ["audience_rows"])
        names = [g.name for g in audience_of(session=session, entry=entry)]
        publish(session=session, event=Event(ENTRY_AUDIENCE_CHANGED, entry_id=entry_id, actor_id=actor.id,
                                             data={"groups": names, "group_deleted": True}))
