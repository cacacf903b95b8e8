"""Groups and audiences (kb.accounts.groups, kb.content.audiences): the rule of kb.content.access
for an article limited to a group, in both its forms, and what managing groups does."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kb.accounts import groups
from kb.accounts.actors import SYSTEM
from kb.accounts.models import GroupMember, User
from kb.content import access, audiences
from kb.content import service as content
from kb.content.models import Entry, Revision
from kb.content.schemas import ArticleCreate
from kb.errors import Conflict, Forbidden, ValidationFailed
from workflow import audit
from workflow.inbox import inbox
from workflow.models import Action, WorkflowEvent
from workflow.notify import notify
from workflow.policy import designate_expert
from workflow.service import transition


@pytest.fixture
def people(db, make_user):
    return {"author": make_user("author"), "member": make_user("agent"), "outsider": make_user("agent"),
            "expert": make_user("expert"), "admin": make_user("admin")}


def _certified(db, people, title="Escalation rota") -> Entry:
    entry = content.create_article(session=db, actor=people["author"],
                                   data=ArticleCreate(title=title, body="Call the duty manager.", tags=["escalation"]))
    designate_expert(session=db, actor=SYSTEM, topic="escalation", user=people["expert"])
    for actor, action in ((people["author"], Action.submit), (people["expert"], Action.approve),
                          (people["expert"], Action.certify)):
        transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
    db.refresh(entry)
    return entry


def _sees(db, user: User, entry: Entry) -> tuple[bool, bool]:
    """(Python rule, SQL rule) for the entry's certified revision, as a fresh session reads them."""
    db.expire_all()
    user, entry = db.get(User, user.id), db.get(Entry, entry.id)
    revision = db.get(Revision, entry.certified_revision_id)
    in_sql = db.exec(select(Revision.id).join(Entry, Entry.id == Revision.entry_id)
                     .where(Revision.id == revision.id, access.revision_visible(user))).first() is not None
    return access.can_view_revision(user, entry, revision), in_sql


def test_an_entry_limited_to_a_group_is_seen_by_members_authors_and_admins_only(db, people):
    entry = _certified(db, people)
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    groups.add_member(session=db, actor=people["admin"], group=tier, user=people["member"])
    assert all(_sees(db, people[p], entry) == (True, True) for p in people)  # everyone, until limited

    audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id])
    db.commit()
    seen = {p: _sees(db, people[p], entry) for p in people}
    assert seen == {"author": (True, True), "member": (True, True), "admin": (True, True),
                    "outsider": (False, False), "expert": (False, False)}  # experts only when in the group

    groups.remove_member(session=db, actor=people["admin"], group=tier, user=people["member"])
    assert _sees(db, people["member"], entry) == (False, False)
    audiences.set_audience(session=db, actor=people["admin"], entry=entry, group_ids=[])
    assert _sees(db, people["outsider"], entry) == (True, True)


def test_only_the_author_or_an_admin_sets_the_audience_and_only_of_articles(db, people):
    entry = _certified(db, people)
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    with pytest.raises(Forbidden):
        audiences.set_audience(session=db, actor=people["expert"], entry=entry, group_ids=[tier.id])
    with pytest.raises(ValidationFailed, match="no longer exists"):
        audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id + 99])
    with pytest.raises(ValidationFailed, match="no group called"):
        audiences.set_audience_by_names(session=db, actor=people["author"], entry=entry, names=["Tier 3"])
    assert audiences.set_audience_by_names(session=db, actor=people["author"], entry=entry, names=["tier 2"]) == [tier]
    from kb.content.forum import ask_question
    from kb.content.schemas import QuestionCreate

    question = ask_question(session=db, actor=people["author"], data=QuestionCreate(title="Who is on call?", body="?"))
    with pytest.raises(ValidationFailed, match="Only articles"):
        audiences.set_audience(session=db, actor=people["author"], entry=question, group_ids=[tier.id])


def test_a_change_of_audience_is_in_the_audit_trail_and_reaches_search(db, people):
    entry = _certified(db, people)
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    from search.models import SearchOutbox

    before = len(db.exec(select(SearchOutbox).where(SearchOutbox.entry_id == entry.id)).all())
    audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id])
    audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id])  # no change
    events = [e for e in audit.history(session=db, entry_id=entry.id) if e.action == "audience"]
    assert [e.comment for e in events] == ["Visible to: Tier 2."]
    assert len(db.exec(select(SearchOutbox).where(SearchOutbox.entry_id == entry.id)).all()) == before + 1


def test_group_names_are_unique_whatever_their_case_and_changes_are_audited(db, people):
    admin = people["admin"]
    tier = groups.create_group(session=db, actor=admin, name="  Tier   2 ", description="Second line")
    assert tier.name == "Tier 2"
    with pytest.raises(Conflict, match="already a group"):
        groups.create_group(session=db, actor=admin, name="TIER 2")
    with pytest.raises(ValidationFailed):
        groups.create_group(session=db, actor=admin, name="   ")
    with pytest.raises(Forbidden):
        groups.create_group(session=db, actor=people["author"], name="Billing")
    groups.update_group(session=db, actor=admin, group=tier, name="Tier two", description="")
    assert groups.find_group(session=db, name="tier TWO").id == tier.id
    actions = [e.action for e in db.exec(select(WorkflowEvent).where(WorkflowEvent.entry_id.is_(None)))]
    assert {"group.create", "group.update"} <= set(actions)


def test_deleting_a_group_never_shows_its_entries_to_more_people(db, people):
    entry = _certified(db, people)
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    groups.add_member(session=db, actor=people["admin"], group=tier, user=people["member"])
    audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id])
    groups.delete_group(session=db, actor=people["admin"], group=tier)
    db.commit()
    assert _sees(db, people["member"], entry) == (False, False)
    assert _sees(db, people["outsider"], entry) == (False, False)
    assert _sees(db, people["author"], entry) == (True, True)
    entry = db.get(Entry, entry.id)
    assert audiences.describe(entry, audiences.audience_of(session=db, entry=entry)).startswith("Only its authors")


def test_notifications_about_a_limited_entry_reach_only_its_audience(db, people):
    entry = _certified(db, people)
    tier = groups.create_group(session=db, actor=people["admin"], name="Tier 2")
    groups.add_member(session=db, actor=people["admin"], group=tier, user=people["member"])
    notify(session=db, users=[people["outsider"], people["member"]], kind="test", message="Before", entry_id=entry.id)
    audiences.set_audience(session=db, actor=people["author"], entry=entry, group_ids=[tier.id])
    notify(session=db, users=[people["outsider"], people["member"]], kind="test", message="After", entry_id=entry.id)
    db.commit()
    assert [n.message for n in inbox(session=db, actor=db.get(User, people["outsider"].id))] == []
    assert sorted(n.message for n in inbox(session=db, actor=db.get(User, people["member"].id))) == ["After", "Before"]


def test_sso_groups_sync_only_the_memberships_they_gave(db, people, make_user):
    admin, user = people["admin"], make_user("agent")
    tier = groups.create_group(session=db, actor=admin, name="Tier 2")
    billing = groups.create_group(session=db, actor=admin, name="Billing")
    groups.add_member(session=db, actor=admin, group=billing, user=user)

    groups.sync_sso_groups(session=db, user=user, group_names=["tier 2", "Unknown team"])
    assert groups.find_group(session=db, name="Unknown team") is None  # not allowed to create
    sources = lambda: {row.group_id: row.source for row in db.exec(select(GroupMember).where(  # noqa: E731
        GroupMember.user_id == user.id))}
    assert sources() == {tier.id: "sso", billing.id: "admin"}
    assert user.group_ids == {tier.id, billing.id}

    groups.sync_sso_groups(session=db, user=user, group_names=["Night shift"], create_missing=True)
    night = groups.find_group(session=db, name="night shift")
    assert sources() == {night.id: "sso", billing.id: "admin"}  # Tier 2 dropped, the admin's kept
    groups.sync_sso_groups(session=db, user=user, group_names=[])
    assert sources() == {billing.id: "admin"}
