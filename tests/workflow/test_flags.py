"""Flags: raising, dismissing, and automatic resolution when a new revision is certified."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kb.content import forum
from kb.content import service as content
from kb.content.models import Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from kb.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from tests.helpers import rows
from workflow import flags
from workflow import service as workflow
from workflow.models import Action, Flag, FlagReason, FlagStatus, Notification, TopicExpert, WorkflowEvent


@pytest.fixture(autouse=True)
def _subscribed():
    flags.register()


def tag_id(db, name: str) -> int:
    return db.exec(select(Tag.id).where(Tag.name == name)).one()


def certify(db, revision_id: int, author, expert) -> None:
    for actor, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=revision_id, action=action)


@pytest.fixture
def world(db, make_user):
    """A certified billing article; ``expert`` is the designated billing expert."""
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Charged twice", body="Refund the duplicate charge.", tags=["billing", "refunds"]))
    db.add(TopicExpert(tag_id=tag_id(db, "billing"), user_id=expert.id))
    db.flush()
    certify(db, entry.latest_revision_id, author, expert)
    db.commit()
    return {"entry": entry, "author": author, "expert": expert, "agent": agent, "revision_id": entry.latest_revision_id}


def new_revision(db, world) -> int:
    entry, author = world["entry"], world["author"]
    revision = content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Charged twice", body="Refund the duplicate charge within 5 days.", tags=["billing"],
        base_revision_id=entry.latest_revision_id))
    db.refresh(entry)
    return revision.id


def test_agent_flags_the_certified_revision_and_experts_are_told(db, world):
    entry, agent, expert = world["entry"], world["agent"], world["expert"]
    flag = flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.outdated,
                            comment="  The refund window changed.  ")
    db.commit()
    assert (flag.status, flag.reason, flag.revision_id) == ("open", "outdated", world["revision_id"])
    assert flag.comment == "The refund window changed." and flag.flagger_id == agent.id
    [note] = rows(db, Notification, kind="flag")
    assert note.user_id == expert.id and note.entry_id == entry.id and note.link == f"/entries/{entry.id}"
    assert "outdated" in note.message and "The refund window changed." in note.message
    [event] = rows(db, WorkflowEvent, action="flag")
    assert (event.actor_id, event.revision_id, event.to_state) == (agent.id, world["revision_id"], "open")
    assert event.signature == "flagged as outdated"


def test_flag_records_the_certified_revision_even_when_a_newer_one_exists(db, world):
    new_revision(db, world)
    # The author sees the newer draft, but the certified revision is what agents were given.
    flag = flags.raise_flag(session=db, actor=world["author"], entry=world["entry"], reason=FlagReason.unclear)
    assert flag.revision_id == world["revision_id"]


def test_one_open_flag_per_user_and_entry(db, world, make_user):
    entry, agent = world["entry"], world["agent"]
    first = flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.incorrect)
    with pytest.raises(Conflict) as refused:
        flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.outdated)
    assert refused.value.details == {"flag_id": first.id}
    other = flags.raise_flag(session=db, actor=make_user("agent"), entry=entry, reason=FlagReason.outdated)
    assert other.id != first.id
    flags.dismiss_flag(session=db, actor=world["expert"], flag=first, reason="It is still correct.")
    again = flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.incorrect)
    assert again.status == "open"


def test_only_visible_articles_and_answers_can_be_flagged(db, world, make_user):
    agent, author = world["agent"], world["author"]
    draft = content.create_article(session=db, actor=author, data=ArticleCreate(title="Draft", body="x", tags=[]))
    with pytest.raises(NotFound):
        flags.raise_flag(session=db, actor=agent, entry=draft, reason=FlagReason.unclear)
    question = forum.ask_question(session=db, actor=agent, data=QuestionCreate(title="How?", body="?", tags=[]))
    with pytest.raises(ValidationFailed):
        flags.raise_flag(session=db, actor=make_user("agent"), entry=question, reason=FlagReason.unclear)
    answer = forum.answer_question(session=db, actor=author, question=question, data=AnswerCreate(body="Like so."))
    flag = flags.raise_flag(session=db, actor=agent, entry=answer, reason=FlagReason.incorrect)
    assert flag.revision_id == answer.latest_revision_id  # not certified: the revision everyone sees


def test_dismiss_needs_a_reason_and_a_topic_expert_or_admin(db, world, make_user):
    entry, agent, expert = world["entry"], world["agent"], world["expert"]
    flag = flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.outdated)
    with pytest.raises(Forbidden):
        flags.dismiss_flag(session=db, actor=make_user("agent"), flag=flag, reason="No.")
    # A designated billing expert exists, so other experts are not the topic's experts.
    with pytest.raises(Forbidden):
        flags.dismiss_flag(session=db, actor=make_user("expert"), flag=flag, reason="No.")
    with pytest.raises(ValidationFailed) as missing:
        flags.dismiss_flag(session=db, actor=expert, flag=flag, reason="   ")
    assert missing.value.field == "reason"

    flags.dismiss_flag(session=db, actor=expert, flag=flag, reason="Checked with finance: still 30 days.")
    db.commit()
    [stored] = rows(db, Flag, id=flag.id)
    assert stored.status == FlagStatus.dismissed.value and stored.resolved_by == expert.id
    assert stored.resolution == "Checked with finance: still 30 days." and stored.resolved_at is not None
    [event] = rows(db, WorkflowEvent, action="dismiss_flag")
    assert (event.actor_id, event.from_state, event.to_state) == (expert.id, "open", "dismissed")
    [note] = rows(db, Notification, kind="flag_dismissed")
    assert note.user_id == agent.id and "still 30 days" in note.message
    with pytest.raises(InvalidTransition):
        flags.dismiss_flag(session=db, actor=expert, flag=stored, reason="Again.")


def test_admin_may_dismiss(db, world, make_user):
    flag = flags.raise_flag(session=db, actor=world["agent"], entry=world["entry"], reason=FlagReason.duplicate)
    flags.dismiss_flag(session=db, actor=make_user("admin"), flag=flag, reason="Not a duplicate.")
    assert flag.status == "dismissed"


def test_certifying_a_new_revision_resolves_open_flags(db, world, make_user):
    entry, author, expert = world["entry"], world["author"], world["expert"]
    flags.register()  # twice: still one reaction per event
    open_one = flags.raise_flag(session=db, actor=world["agent"], entry=entry, reason=FlagReason.outdated)
    dismissed = flags.raise_flag(session=db, actor=make_user("agent"), entry=entry, reason=FlagReason.unclear)
    flags.dismiss_flag(session=db, actor=expert, flag=dismissed, reason="Clear enough.")
    revision_id = new_revision(db, world)
    certify(db, revision_id, author, expert)
    db.commit()

    [resolved] = rows(db, Flag, id=open_one.id)
    assert resolved.status == "resolved" and resolved.resolution == "Resolved by certified revision 2"
    assert resolved.resolved_by == expert.id and resolved.resolved_at is not None
    assert rows(db, Flag, id=dismissed.id)[0].status == "dismissed"
    [event] = rows(db, WorkflowEvent, action="resolve_flag")
    assert (event.revision_id, event.from_state, event.to_state) == (revision_id, "open", "resolved")
    [note] = rows(db, Notification, kind="flag_resolved")
    assert note.user_id == world["agent"].id and "revision 2" in note.message


def test_open_flags_by_topic_oldest_first_and_flags_for_entry(db, world, make_user):
    entry = world["entry"]
    first = flags.raise_flag(session=db, actor=world["agent"], entry=entry, reason=FlagReason.outdated)
    second = flags.raise_flag(session=db, actor=make_user("agent"), entry=entry, reason=FlagReason.unclear)
    db.commit()
    billing, refunds = tag_id(db, "billing"), tag_id(db, "refunds")
    assert [f.id for f in flags.open_flags(session=db, tag_ids=[billing])] == [first.id, second.id]
    assert [f.id for f in flags.open_flags(session=db, tag_ids=[refunds, billing])] == [first.id, second.id]
    assert [f.id for f in flags.open_flags(session=db)] == [first.id, second.id]
    unrelated = Tag(name="shipping")
    db.add(unrelated)
    db.flush()
    assert flags.open_flags(session=db, tag_ids=[unrelated.id]) == []
    assert flags.open_flags(session=db, tag_ids=[]) == []
    flags.dismiss_flag(session=db, actor=world["expert"], flag=first, reason="Fine.")
    assert [f.id for f in flags.open_flags(session=db, tag_ids=[billing])] == [second.id]
    assert {f.id for f in flags.flags_for_entry(session=db, entry_id=entry.id)} == {first.id, second.id}


def test_get_flag_hides_flags_of_entries_one_cannot_see(db, world, make_user):
    author = world["author"]
    draft = content.create_article(session=db, actor=author, data=ArticleCreate(title="Draft", body="x", tags=[]))
    flag = flags.raise_flag(session=db, actor=author, entry=draft, reason=FlagReason.unclear)
    assert flags.get_flag(session=db, actor=author, flag_id=flag.id).id == flag.id
    with pytest.raises(NotFound):
        flags.get_flag(session=db, actor=world["agent"], flag_id=flag.id)
    with pytest.raises(NotFound):
        flags.get_flag(session=db, actor=author, flag_id=flag.id + 1000)
