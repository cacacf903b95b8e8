"""One bootstrap for every entry point: every published event reaches its subscribers, every
periodic job runs (each on its own), and the web app refuses to start without the wiring."""

from __future__ import annotations

import re

import pytest

from cli.bootstrap import bootstrap
from kb import events, jobs
from search import outbox
from tests.helpers import ROOT
from workflow import audit, flags

PUBLISHED = re.compile(r"\bEvent\(\s*([A-Z_]+)\b")
# Published for the record, with no reaction yet: promoting an answer also publishes
# ``entry.created`` for the new article, which is what search and routing react to.
NOBODY_REACTS = {events.ANSWER_PROMOTED}


def published_events() -> set[str]:
    return {getattr(events, constant)
            for package in ("kb", "workflow", "expertise", "search")
            for path in (ROOT / package).rglob("*.py")
            for constant in PUBLISHED.findall(path.read_text())}


def test_every_published_event_has_its_subscribers_after_bootstrap():
    bootstrap()
    published = published_events()
    assert {events.ENTRY_CREATED, events.CERTIFICATION_CHANGED, events.ADMIN_ACTION} <= published  # the scan works
    assert published <= events.EVENT_NAMES
    unheard = {name for name in published - NOBODY_REACTS if not events.subscribers(name)}
    assert not unheard, f"published events nobody subscribes to: {sorted(unheard)}"
    for name in outbox.EVENTS:  # e.g. a certification schedules indexing
        assert outbox._record in events.subscribers(name), name
    assert flags._on_transition in events.subscribers(events.REVISION_TRANSITION)
    assert audit._on_admin_action in events.subscribers(events.ADMIN_ACTION)


def test_bootstrap_is_idempotent():
    bootstrap()
    before = {name: events.subscribers(name) for name in events.EVENT_NAMES}
    bootstrap()
    assert {name: events.subscribers(name) for name in events.EVENT_NAMES} == before
    assert jobs.registered() == ("expiry", "mail", "digests", "escalation", "expertise recompute", "form tokens",
                                 "webhooks")


def test_subscribing_to_an_unknown_event_fails_at_once():
    with pytest.raises(ValueError, match="no domain event called 'certification.changd'"):
        events.subscribe("certification.changd", lambda session, event: None)


def test_the_web_app_refuses_to_build_without_bootstrap(monkeypatch, settings, engine):
    from web.app import create_app

    monkeypatch.setattr(events, "_bootstrapped", False)
    with pytest.raises(RuntimeError, match=r"bootstrap\(\)"):
        create_app(settings=settings, engine=engine)


def test_a_failing_periodic_job_does_not_stop_the_others(monkeypatch, engine, db, settings, caplog):
    ran = []

    def broken(*, session, settings, now):
        raise RuntimeError("the mail server is on fire")

    def counting(*, session, settings, now):
        ran.append(now)
        return 1

    monkeypatch.setattr(jobs, "_jobs", {})
    jobs.register("broken", broken)
    jobs.register("counting", counting)
    with pytest.raises(ValueError, match="already registered"):
        jobs.register("counting", broken)
    run = jobs.run_periodic(engine, settings)
    assert ran == [None] and run.results == {"counting": 1}
    assert list(run.failures) == ["broken"] and "on fire" in str(run.failures["broken"])
    assert "periodic job 'broken' failed" in caplog.text


def test_run_periodic_runs_every_registered_job(engine, db, settings):
    bootstrap()
    run = jobs.run_periodic(engine, settings)
    assert not run.failures
    assert set(run.results) == set(jobs.registered())
