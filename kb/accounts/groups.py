"""Groups of people ("Tier 2", "Billing team"): what entries can be limited to (audiences,
``kb.content.audiences``). Administrators manage them on /admin/groups; an identity provider's
group claims keep the memberships marked ``sso`` in step at each sign-in (``sync_sso_groups``),
and never touch the ones an administrator added.

Joining or leaving a group needs no re-indexing: search reads the searcher's groups at query time
(``search.service.viewer_for``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import GroupMember, MembershipSource, Role, User, UserGroup
from kb.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kb.events import admin_action

NAME_LENGTH = 80
DESCRIPTION_LENGTH = 300


def _require_admin(actor: Actor) -> None:
    require_admin(actor, "Only an administrator can manage groups.")


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("Give the group a name, for example “Tier 2”.", field="name")
    if len(name) > NAME_LENGTH:
        raise ValidationFailed(f"Group names go up to {NAME_LENGTH} characters.", field="name")
    return name


def _clean_description(description: str) -> str:
    description = " ".join((description or "").split())
    if len(description) > DESCRIPTION_LENGTH:
        raise ValidationFailed(f"Descriptions go up to {DESCRIPTION_LENGTH} characters.", field="description")
    return description


def _audit(session: Session, actor: Actor, action: str, target: str, detail: str = "") -> None:
    admin_action(session=session, actor_id=actor.id, action=action, target=target, detail=detail)


def find_group(*, session: Session, name: str) -> UserGroup | None:
    return session.exec(select(UserGroup).where(UserGroup.name_key == " ".join(name.split()).lower())).first()


def get_group(*, session: Session, group_id: int) -> UserGroup:
    group = session.get(UserGroup, group_id)
    if group is None:
        raise NotFound("That group does not exist.")
    return group


@dataclass(frozen=True)
class GroupSummary:
    group: UserGroup
    members: int
    entries: int  # entries limited to it


def require_may_list(actor: Actor) -> None:
    """Writers choose audiences, so they see the groups' names; agents have no use for them."""
    if not actor.has_role(Role.author, Role.expert, Role.admin):
        raise Forbidden("Only authors, experts and administrators choose who sees an article.")


def list_groups(*, session: Session) -> list[UserGroup]:
    """Every group, by name (anyone who may limit an entry picks from these)."""
    return list(session.exec(select(UserGroup).order_by(UserGroup.name_key)))


def group_summaries(*, session: Session, actor: Actor) -> list[GroupSummary]:
    """The administrators' list: each group with how many members and entries it has."""
    _require_admin(actor)
    from kb.content.models import EntryAudience  # kb.content depends on accounts, not the reverse

    members = dict(session.exec(select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)).all())
    entries = dict(session.exec(select(EntryAudience.group_id, func.count()).group_by(EntryAudience.group_id)).all())
    return [GroupSummary(g, members.get(g.id, 0), entries.get(g.id, 0)) for g in list_groups(session=session)]


def _unique_name(session: Session, name: str, *, except_id: int | None = None) -> None:
    found = find_group(session=session, name=name)
    if found is not None and found.id != except_id:
        raise Conflict(f"There is already a group called “{found.name}”.", field="name")


def create_group(*, session: Session, actor: Actor, name: str, description: str = "") -> UserGroup:
    _require_admin(actor)
    name, description = _clean_name(name), _clean_description(description)
    _unique_name(session, name)
    group = UserGroup(name=name, name_key=name.lower(), description=description)
    session.add(group)
    session.flush()
    _audit(session, actor, "group.create", name, description)
    return group


def update_group(*, session: Session, actor: Actor, group: UserGroup, name: str, description: str) -> UserGroup:
    """Rename a group or change its description (entries limited to it stay limited to it)."""
    _require_admin(actor)
    name, description = _clean_name(name), _clean_description(description)
    _unique_name(session, name, except_id=group.id)
    old = group.name
    group.name, group.name_key, group.description = name, name.lower(), description
    session.add(group)
    session.flush()
    _audit(session, actor, "group.update", name, f"Renamed from “{old}”." if old != name else "Description changed.")
    return group


def members(*, session: Session, group: UserGroup) -> list[tuple[User, str]]:
    """(member, how they joined: "admin" or "sso"), by name."""
    return list(session.exec(select(User, GroupMember.source).join(GroupMember, GroupMember.user_id == User.id)
                             .where(GroupMember.group_id == group.id).order_by(User.display_name, User.id)).all())


def groups_of(*, session: Session, user: User) -> list[UserGroup]:
    return list(session.exec(select(UserGroup).join(GroupMember, GroupMember.group_id == UserGroup.id)
                             .where(GroupMember.user_id == user.id).order_by(UserGroup.name_key)))


def add_member(*, session: Session, actor: Actor, group: UserGroup, user: User) -> None:
    """Add ``user`` as an administrator's member (an SSO membership becomes one: it then stays
    when the identity provider stops naming the group)."""
    _require_admin(actor)
    row = session.get(GroupMember, (group.id, user.id))
    if row is None:
        session.add(GroupMember(group_id=group.id, user_id=user.id, source=MembershipSource.admin.value))
    elif row.source == MembershipSource.admin.value:
        return
    else:
        row.source = MembershipSource.admin.value
        session.add(row)
    session.flush()
    session.expire(user, ["group_rows"])
    _audit(session, actor, "group.member_add", group.name, f"Added {user.email}.")


def remove_member(*, session: Session, actor: Actor, group: UserGroup, user: User) -> None:
    _require_admin(actor)
    row = session.get(GroupMember, (group.id, user.id))
    if row is None:
        raise NotFound(f"{user.display_name} is not in the group “{group.name}”.")
    session.delete(row)
    session.flush()
    session.expire(user, ["group_rows"])
    _audit(session, actor, "group.member_remove", group.name, f"Removed {user.email}.")


def entries_limited_to(*, session: Session, group: UserGroup) -> list[int]:
    from kb.content.models import EntryAudience

    return list(session.exec(select(EntryAudience.entry_id).where(EntryAudience.group_id == group.id)))


def delete_group(*, session: Session, actor: Actor, group: UserGroup) -> None:
    """Delete a group. Entries that were limited to it stay limited (to their other groups, or to
    nobody but their authors and admins until someone chooses again): deleting a group never
    makes anything more visible."""
    _require_admin(actor)
    from kb.content.audiences import group_deleted

    entry_ids = entries_limited_to(session=session, group=group)
    name = group.name
    session.exec(delete(GroupMember).where(GroupMember.group_id == group.id))
    session.delete(group)
    session.flush()
    group_deleted(session=session, actor=actor, entry_ids=entry_ids)
    _audit(session, actor, "group.delete", name, f"{len(entry_ids)} entries were limited to it.")


def sync_sso_groups(*, session: Session, user: User, group_names: list[str], create_missing: bool = False) -> None:
    """Make ``user``'s SSO-sourced memberships exactly the groups named by the identity provider
    (matched by name, whatever the case). Unknown names are ignored unless ``create_missing``
    (``KB_SSO_CREATE_GROUPS``, an administrator's choice), which creates them. Memberships an
    administrator added are never removed here."""
    wanted: dict[int, UserGroup] = {}
    for raw in group_names:
        name = " ".join((raw or "").split())[:NAME_LENGTH]
        if not name:
            continue
        group = find_group(session=session, name=name)
        if group is None and create_missing:
            group = UserGroup(name=name, name_key=name.lower())
            session.add(group)
            session.flush()
            admin_action(session=session, actor_id=None, action="group.create", target=name,
                         detail="Created from a sign-in's group claims.")
        if group is not None:
            wanted[group.id] = group
    current = {row.group_id: row for row in session.exec(select(GroupMember).where(GroupMember.user_id == user.id))}
    for group_id, row in current.items():
        if row.source == MembershipSource.sso.value and group_id not in wanted:
            session.delete(row)
    for group_id in wanted.keys() - current.keys():
        session.add(GroupMember(group_id=group_id, user_id=user.id, source=MembershipSource.sso.value))
    session.flush()
    session.expire(user, ["group_rows"])
