"""The expiry sweep: reminders before, needs_reverification after; re-verification restores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from kb.content import service as content
from kb.content.models import Tag
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb import events
from tests.helpers import rows
from workflow import service as workflow
from workflow.expiry import as_utc, sweep
from workflow.models import Action, Certification, Notification, Policy, TopicExpert, WorkflowEvent


@pytest.fixture
def world(db, make_user):
    """A billing article certified by a designated billing expert; a second billing expert."""
    author, certifier, colleague, agent = make_user("author"), make_user("expert"), make_user("expert"), \
        make_user("agent")
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title="Charged twice", body="Refund the duplicate charge.", tags=["billing"]))
    billing = db.exec(select(Tag.id).where(Tag.name == "billing")).one()
    db.add_all([TopicExpert(tag_id=billing, user_id=certifier.id), TopicExpert(tag_id=billing, user_id=colleague.id)])
    db.flush()
    for actor, action in ((author, Action.submit), (certifier, Action.approve), (certifier, Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    cert = db.get(Certification, entry.id)
    return {"entry": entry, "author": author, "certifier": certifier, "colleague": colleague, "agent": agent,
            "cert": cert, "billing": billing, "until": as_utc(cert.valid_until)}


def notified(db, kind: str) -> set[int]:
    return {n.user_id for n in rows(db, Notification, kind=kind)}


def test_certification_lasts_the_policy_validity(db, world):
    cert = world["cert"]
    assert cert.status == "active" and cert.certified_by == world["certifier"].id
    assert world["until"] - as_utc(cert.certified_at) == timedelta(days=90)


def test_reminder_once_within_the_reminder_period(db, world):
    until = world["until"]
    early = sweep(session=db, now=until - timedelta(days=15))
    assert (early.reminders_sent, early.needs_reverification) == (0, 0)
    report = sweep(session=db, now=until - timedelta(days=5))
    db.commit()
    assert report.reminded == [world["entry"].id] and report.needs_reverification == 0
    assert notified(db, "expiry_reminder") == {world["certifier"].id, world["colleague"].id}
    [note] = [n for n in rows(db, Notification, kind="expiry_reminder") if n.user_id == world["certifier"].id]
    assert f"{until:%Y-%m-%d}" in note.message and note.link == f"/entries/{world['entry'].id}"
    [cert] = rows(db, Certification, entry_id=world["entry"].id)
    assert cert.status == "active" and as_utc(cert.reminder_sent_at) == until - timedelta(days=5)
    again = sweep(session=db, now=until - timedelta(days=4))
    assert again.reminders_sent == 0 and len(rows(db, Notification, kind="expiry_reminder")) == 2


def test_reminder_period_comes_from_the_topic_policy(db, world):
    db.add(Policy(tag_id=world["billing"], reminder_days=3))
    db.commit()
    assert sweep(session=db, now=world["until"] - timedelta(days=5)).reminders_sent == 0
    assert sweep(session=db, now=world["until"] - timedelta(days=2)).reminders_sent == 1


def test_expiry_marks_needs_reverification_once(db, world, monkeypatch):
    published = []
    # Listen for the domain event without leaving the listener behind for other tests.
    name = "certification.changed"
    monkeypatch.setitem(events._handlers, name, [*events._handlers.get(name, []), lambda _s, e: published.append(e)])
    entry, until = world["entry"], world["until"]
    report = sweep(session=db, now=until + timedelta(minutes=1))
    db.commit()
    assert report.expired == [entry.id] and report.reminders_sent == 0  # past the date: no late reminder
    [cert] = rows(db, Certification, entry_id=entry.id)
    assert cert.status == "needs_reverification"
    [event] = rows(db, WorkflowEvent, action="expire")
    assert event.actor_id is None and (event.from_state, event.to_state) == ("active", "needs_reverification")
    assert event.signature == "expired automatically" and event.revision_id == cert.revision_id
    assert notified(db, "needs_reverification") == {world["certifier"].id, world["colleague"].id}
    assert [(e.entry_id, e.data) for e in published] == [(entry.id, {"action": "expire", "needs_reverification": True})]

    second = sweep(session=db, now=until + timedelta(days=30))
    db.commit()
    assert (second.reminders_sent, second.needs_reverification) == (0, 0)
    assert len(rows(db, WorkflowEvent, action="expire")) == 1
    assert len(rows(db, Notification, kind="needs_reverification")) == 2
    assert len(published) == 1


def test_expiry_exactly_at_valid_until(db, world):
    assert sweep(session=db, now=world["until"]).needs_reverification == 1


def test_agents_still_see_the_certified_revision_while_it_needs_reverification(db, world):
    entry, agent = world["entry"], world["agent"]
    sweep(session=db, now=world["until"] + timedelta(days=1))
    db.commit()
    db.refresh(entry)
    seen = content.visible_revision(session=db, actor=agent, entry=entry)
    assert seen is not None and seen.id == world["cert"].revision_id
    assert content.get_entry(session=db, actor=agent, entry_id=entry.id).id == entry.id


def test_reverify_restores_active_with_a_new_validity(db, world):
    entry, colleague = world["entry"], world["colleague"]
    sweep(session=db, now=world["until"] + timedelta(days=1))
    db.commit()
    cert = workflow.reverify(session=db, actor=colleague, entry=entry, comment="Checked with finance.")
    db.commit()
    [stored] = rows(db, Certification, entry_id=entry.id)
    assert stored.status == "active" and stored.reverified_by == colleague.id and stored.reverified_at is not None
    assert as_utc(stored.valid_until) - as_utc(stored.reverified_at) == timedelta(days=90)
    assert stored.reminder_sent_at is None and stored.certified_by == world["certifier"].id
    assert cert.version == stored.version
    [event] = rows(db, WorkflowEvent, action="reverify")
    assert (event.from_state, event.to_state, event.actor_id) == ("needs_reverification", "active", colleague.id)
    # The new period gets its own reminder and expiry.
    until = as_utc(stored.valid_until)
    assert sweep(session=db, now=until - timedelta(days=1)).reminders_sent == 1
    assert sweep(session=db, now=until).needs_reverification == 1


def test_archived_certifications_are_left_alone(db, world):
    entry, certifier = world["entry"], world["certifier"]
    workflow.archive(session=db, actor=certifier, entry=entry, comment="Product discontinued.")
    db.commit()
    report = sweep(session=db, now=world["until"] + timedelta(days=1))
    assert (report.reminders_sent, report.needs_reverification) == (0, 0)
    assert rows(db, Certification, entry_id=entry.id)[0].status == "archived"


def test_a_new_certification_starts_a_new_period(db, world):
    entry, author, certifier = world["entry"], world["author"], world["certifier"]
    sweep(session=db, now=world["until"] - timedelta(days=1))  # reminded
    revision = content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Charged twice", body="Refund the duplicate charge today.", tags=["billing"],
        base_revision_id=entry.latest_revision_id))
    for actor, action in ((author, Action.submit), (certifier, Action.approve), (certifier, Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=revision.id, action=action)
    db.commit()
    [cert] = rows(db, Certification, entry_id=entry.id)
    assert cert.revision_id == revision.id and cert.reminder_sent_at is None and cert.status == "active"
    assert as_utc(cert.valid_until) >= world["until"]
    # Reminded about the old period, but the new one gets its own reminder.
    assert sweep(session=db, now=world["until"] - timedelta(days=1)).reminders_sent == 1
