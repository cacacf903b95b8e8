"""Periodic jobs: work done on a timer by ``kb serve`` and once per ``kb expire`` (cron).

The jobs live in the packages that own the work (``workflow.expiry``, ``workflow.mailer``,
``expertise.questions``, ``expertise.scores``); ``cli.bootstrap.bootstrap()`` registers them here,
since ``kb`` imports no other package, so that every entry point runs the same list. Each job runs
in its own transaction and a failing job is logged without stopping the others (a mail server
outage must not stop expiry, nor the reverse). Every job is safe to run in several processes at
once: they claim rows with conditional updates or primary keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from kb.db import unit_of_work
from kb.settings import Settings

log = logging.getLogger("kb.periodic")

# A job: ``job(session=..., settings=..., now=...)`` does one kind of work in the given session and
# returns what it did (a count or a report); ``now`` None means the current time.
Job = Callable[..., object]
_jobs: dict[str, Job] = {}


def register(name: str, job: Job) -> None:
    """Add a periodic job under ``name`` (run in registration order). Registering the same job
    again is a no-op; another job under a taken name is a mistake."""
    if _jobs.get(name, job) is not job:
        raise ValueError(f"A different periodic job is already registered as {name!r}.")
    _jobs[name] = job


def registered() -> tuple[str, ...]:
    return tuple(_jobs)


@dataclass
class PeriodicRun:
    """What one run of every job did: each job's result by name, and the jobs that failed."""

    results: dict[str, object] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)


def run_periodic(engine: Engine, settings: Settings, *, now: datetime | None = None) -> PeriodicRun:
    """Run every registered job once, each in its own transaction."""
    run = PeriodicRun()
    for name, job in _jobs.items():
        try:
            with unit_of_work(engine) as session:
                run.results[name] = job(session=session, settings=settings, now=now)
        except Exception as exc:  # isolated: logged, the next job still runs
            log.exception("periodic job %r failed", name)
            run.failures[name] = exc
    if any(run.results.values()):
        log.info("periodic: %s", {name: result for name, result in run.results.items() if result})
    return run
