"""Flags, re-verification and archiving over HTTP (JSON API and form posts), and `kb expire`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from kb.content import service as content
from kb.content.models import Entry, Tag
from kb.content.schemas import ArticleCreate
from tests.helpers import PASSWORD, form_post, login
from workflow import flags
from workflow import service as workflow
from workflow.expiry import as_utc, sweep
from workflow.models import Action, Certification, Flag, FlagReason, Notification, TopicExpert, WorkflowEvent
from kb.accounts.actors import SYSTEM


@pytest.fixture(autouse=True)
def _subscribed():
    flags.register()


def certified_article(db, author, expert, *, tags=("billing",), title="Charged twice") -> Entry:
    """An article by ``author`` certified by ``expert``, who becomes a designated expert of its first tag."""
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(
        title=title, body="Refund the duplicate charge.", tags=list(tags)))
    tag = db.exec(select(Tag.id).where(Tag.name == tags[0])).one()
    if db.get(TopicExpert, (tag, expert.id)) is None:
        db.add(TopicExpert(tag_id=tag, user_id=expert.id))
        db.flush()
    for actor, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    return entry


@pytest.fixture
def world(db, make_user):
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    entry = certified_article(db, author, expert)
    return {"author": author, "expert": expert, "agent": agent, "entry": entry}


def stored(db, model, **filters) -> list:
    """Rows as the app committed them: a new snapshot, and no stale objects from this session."""
    db.commit()
    db.expire_all()
    statement = select(model)
    for name, value in filters.items():
        statement = statement.where(getattr(model, name) == value)
    return list(db.exec(statement))


# --- JSON API --------------------------------------------------------------------------------


def test_flag_list_and_dismiss(client, bearer, world):
    entry, agent, expert = world["entry"], world["agent"], world["expert"]
    created = client.post(f"/api/v1/entries/{entry.id}/flags", json={"reason": "outdated", "comment": "Old fee."},
                          headers=bearer(agent))
    assert created.status_code == 201, created.text
    flag = created.json()
    assert flag["status"] == "open" and flag["reason"] == "outdated" and flag["flagger_id"] == agent.id
    assert flag["revision_id"] == entry.certified_revision_id and flag["comment"] == "Old fee."

    duplicate = client.post(f"/api/v1/entries/{entry.id}/flags", json={"reason": "unclear"}, headers=bearer(agent))
    assert duplicate.status_code == 409 and duplicate.json()["flag_id"] == flag["id"]
    bad = client.post(f"/api/v1/entries/{entry.id}/flags", json={"reason": "boring"}, headers=bearer(expert))
    assert bad.status_code == 422

    listed = client.get(f"/api/v1/entries/{entry.id}/flags", headers=bearer(agent))
    assert listed.status_code == 200 and [f["id"] for f in listed.json()] == [flag["id"]]

    refused = client.post(f"/api/v1/flags/{flag['id']}/dismiss", json={"reason": "No."}, headers=bearer(agent))
    assert refused.status_code == 403
    empty = client.post(f"/api/v1/flags/{flag['id']}/dismiss", json={"reason": "  "}, headers=bearer(expert))
    assert empty.status_code == 422
    dismissed = client.post(f"/api/v1/flags/{flag['id']}/dismiss", json={"reason": "Fee is unchanged."},
                            headers=bearer(expert))
    assert dismissed.status_code == 200, dismissed.text
    body = dismissed.json()
    assert body["status"] == "dismissed" and body["resolution"] == "Fee is unchanged."
    assert body["resolved_by"] == expert.id and body["resolved_at"]
    again = client.post(f"/api/v1/flags/{flag['id']}/dismiss", json={"reason": "Again."}, headers=bearer(expert))
    assert again.status_code == 409
    missing = client.post("/api/v1/flags/999999/dismiss", json={"reason": "x"}, headers=bearer(expert))
    assert missing.status_code == 404


def test_reverify_and_archive(client, bearer, db, world):
    entry, expert, agent, author = world["entry"], world["expert"], world["agent"], world["author"]
    sweep(session=db, now=as_utc(db.get(Certification, entry.id).valid_until))
    db.commit()
    for action in ("reverify", "archive"):
        assert client.post(f"/api/v1/entries/{entry.id}/{action}", json={}, headers=bearer(agent)).status_code == 403
        # The author cannot vouch for their own work either.
        assert client.post(f"/api/v1/entries/{entry.id}/{action}", json={}, headers=bearer(author)).status_code == 403

    reverified = client.post(f"/api/v1/entries/{entry.id}/reverify", json={"comment": "Still right."},
                             headers=bearer(expert))
    assert reverified.status_code == 200, reverified.text
    cert = reverified.json()
    assert set(cert) == {"entry_id", "revision_id", "status", "certified_by", "certified_at", "valid_until",
                         "reverified_by", "reverified_at"}
    assert cert["status"] == "active" and cert["reverified_by"] == expert.id
    assert cert["entry_id"] == entry.id and cert["revision_id"] == entry.certified_revision_id

    archived = client.post(f"/api/v1/entries/{entry.id}/archive", json={"comment": "Discontinued."},
                           headers=bearer(expert))
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    # Archived content is gone for agents (and for the expert, who is not its author).
    assert client.get(f"/api/v1/entries/{entry.id}", headers=bearer(agent)).status_code == 404
    assert client.post(f"/api/v1/entries/{entry.id}/reverify", json={}, headers=bearer(expert)).status_code == 404
    [event] = stored(db, WorkflowEvent, action="archive")
    assert event.comment == "Discontinued." and event.actor_id == expert.id


def test_entries_one_cannot_see_are_404(client, bearer, db, world):
    author, agent = world["author"], world["agent"]
    draft = content.create_article(session=db, actor=author, data=ArticleCreate(title="Draft", body="x", tags=[]))
    db.commit()
    headers = bearer(agent)
    assert client.post(f"/api/v1/entries/{draft.id}/flags", json={"reason": "unclear"}, headers=headers).status_code \
        == 404
    assert client.get(f"/api/v1/entries/{draft.id}/flags", headers=headers).status_code == 404
    for action in ("reverify", "archive"):
        assert client.post(f"/api/v1/entries/{draft.id}/{action}", json={}, headers=headers).status_code == 404
    assert client.post("/api/v1/entries/999999/flags", json={"reason": "unclear"}, headers=headers).status_code == 404
    # Without a token: 401.
    assert client.post(f"/api/v1/entries/{world['entry'].id}/flags", json={"reason": "unclear"}).status_code == 401


def test_certifying_through_the_api_resolves_flags(client, bearer, db, world):
    entry, author, expert, agent = world["entry"], world["author"], world["expert"], world["agent"]
    flag_id = client.post(f"/api/v1/entries/{entry.id}/flags", json={"reason": "outdated"},
                          headers=bearer(agent)).json()["id"]
    revision = client.post(f"/api/v1/entries/{entry.id}/revisions", headers=bearer(author), json={
        "title": "Charged twice", "body": "Refund within 5 days.", "tags": ["billing"],
        "base_revision_id": entry.latest_revision_id}).json()
    for user, action in ((author, "submit"), (expert, "approve"), (expert, "certify")):
        moved = client.post(f"/api/v1/revisions/{revision['id']}/{action}", json={}, headers=bearer(user))
        assert moved.status_code == 200, moved.text
    [flag] = stored(db, Flag, id=flag_id)
    assert flag.status == "resolved" and flag.resolution == "Resolved by certified revision 2"
    assert {n.user_id for n in stored(db, Notification, kind="flag_resolved")} == {agent.id}


# --- HTML form posts -------------------------------------------------------------------------


def test_flag_form_redirects_back_to_the_entry(client, db, world):
    entry, agent = world["entry"], world["agent"]
    login(client, agent.email)
    posted = form_post(client, f"/entries/{entry.id}/flags", {"reason": "incorrect", "comment": "Wrong fee."},
                       page=f"/articles/{entry.id}")
    assert posted.status_code == 303 and posted.headers["location"] == f"/articles/{entry.id}?flagged=1"
    [flag] = stored(db, Flag, entry_id=entry.id)
    assert flag.reason == "incorrect" and flag.comment == "Wrong fee."
    again = form_post(client, f"/entries/{entry.id}/flags", {"reason": "incorrect"}, page=f"/articles/{entry.id}")
    assert again.status_code == 409 and "already flagged" in again.text
    bad = form_post(client, f"/entries/{entry.id}/flags", {"reason": "boring"}, page=f"/articles/{entry.id}")
    assert bad.status_code == 422
    refused = form_post(client, f"/entries/{entry.id}/reverify", {"comment": ""}, page=f"/articles/{entry.id}")
    assert refused.status_code == 403 and "experts" in refused.text


def test_expert_forms_dismiss_reverify_and_archive(client, db, world):
    entry, expert, agent = world["entry"], world["expert"], world["agent"]
    flag = flags.raise_flag(session=db, actor=agent, entry=entry, reason=FlagReason.unclear)
    db.commit()
    login(client, expert.email)
    page = f"/articles/{entry.id}"
    dismissed = form_post(client, f"/flags/{flag.id}/dismiss", {"reason": "Clear enough."}, page=page)
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/review"
    assert stored(db, Flag, id=flag.id)[0].status == "dismissed"
    reverified = form_post(client, f"/entries/{entry.id}/reverify", {"comment": "Checked."}, page=page)
    assert reverified.status_code == 303 and reverified.headers["location"] == page
    assert stored(db, Certification, entry_id=entry.id)[0].reverified_by == expert.id
    archived = form_post(client, f"/entries/{entry.id}/archive", {"comment": "Gone."}, page=page)
    # The expert can no longer see the archived article, so the review queue is next.
    assert archived.status_code == 303 and archived.headers["location"] == "/review"
    assert stored(db, Certification, entry_id=entry.id)[0].status == "archived"


def test_only_those_who_may_see_the_certification_buttons(app, client, bearer, db, make_user, world):
    """The entry tools draw re-verify/archive from the same rule the service authorises with: an
    expert of another topic sees neither button and is refused; an expert of the topic sees both."""
    entry, expert = world["entry"], world["expert"]
    other = make_user("expert", name="Sam Shipping")
    certified_article(db, world["author"], other, tags=("shipping",), title="Late parcels")  # expert of shipping
    page = f"/articles/{entry.id}"
    login(client, other.email)
    seen = client.get(page).text
    assert "Something wrong with this article?" in seen  # the tools are there, for flagging
    assert "Re-verify: still correct" not in seen and f'formaction="/entries/{entry.id}/archive"' not in seen
    for action in ("reverify", "archive"):
        refused = form_post(client, f"/entries/{entry.id}/{action}", {"comment": ""}, page=page)
        assert refused.status_code == 403 and "experts of this topic" in refused.text
        assert client.post(f"/api/v1/entries/{entry.id}/{action}", json={}, headers=bearer(other)).status_code == 403
    assert stored(db, Certification, entry_id=entry.id)[0].status == "active"
    assert stored(db, WorkflowEvent, action="reverify") == [] and stored(db, WorkflowEvent, action="archive") == []

    expert_client = TestClient(app)
    login(expert_client, expert.email)
    tools = expert_client.get(page).text
    assert "Re-verify: still correct" in tools and f'formaction="/entries/{entry.id}/reverify"' in tools
    assert f'formaction="/entries/{entry.id}/archive"' in tools
    assert 'data-confirm="Archive this entry? Agents will no longer see it."' in tools


# --- kb expire -------------------------------------------------------------------------------

KB = str(Path(sys.executable).parent / "kb")


def run_kb(args, data_dir):
    environment = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_ENV": "development", "COLUMNS": "200"}
    environment.pop("KB_DATABASE_URL", None)
    return subprocess.run([KB, *args], capture_output=True, text=True, env=environment, timeout=120)


def test_kb_expire_command(tmp_path):
    from kb.accounts import service as accounts
    from kb.accounts.schemas import UserCreate
    from kb.db import make_engine, session_factory

    assert run_kb(["expire"], tmp_path).returncode == 2  # not initialised: says to run kb init
    assert run_kb(["init"], tmp_path).returncode == 0
    engine = make_engine(f"sqlite:///{(tmp_path / 'kb.sqlite3').resolve()}")
    with session_factory(engine)() as session:
        author, expert = (accounts.create_user(session=session, actor=SYSTEM, data=UserCreate(
            email=f"{role}@example.com", display_name=role.title(), roles=[role], password=PASSWORD))
            for role in ("author", "expert"))
        entry = certified_article(session, author, expert)
        until = as_utc(session.get(Certification, entry.id).valid_until)
    engine.dispose()

    usage = run_kb(["expire", "--now", "next tuesday"], tmp_path)
    assert usage.returncode == 2 and "not an ISO 8601" in usage.stderr and "Traceback" not in usage.stderr
    quiet = run_kb(["expire"], tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "Sent 0 expiry reminders; 0 entries now need re-verification." in quiet.stdout
    remind = run_kb(["expire", "--now", (until - timedelta(days=5)).isoformat()], tmp_path)
    assert remind.returncode == 0, remind.stderr
    assert "Sent 1 expiry reminder; 0 entries now need re-verification." in remind.stdout
    naive_utc = (until + timedelta(hours=1)).replace(tzinfo=None).isoformat(timespec="minutes")
    expired = run_kb(["expire", "--now", naive_utc], tmp_path)
    assert expired.returncode == 0, expired.stderr
    assert "Sent 0 expiry reminders; 1 entry now needs re-verification." in expired.stdout
    again = run_kb(["expire", "--now", naive_utc], tmp_path)
    assert "Sent 0 expiry reminders; 0 entries now need re-verification." in again.stdout

    with session_factory(engine)() as session:
        assert session.get(Certification, entry.id).status == "needs_reverification"
        kinds = [n.kind for n in session.exec(select(Notification).where(Notification.entry_id == entry.id))]
        assert kinds.count("expiry_reminder") == 1 and kinds.count("needs_reverification") == 1
    engine.dispose()
