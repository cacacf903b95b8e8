"""Expertise work done on a timer by ``kb serve`` (and by ``kb expire``): escalating unanswered
questions to more experts, and a daily full recompute of expertise scores (events keep the scores
of active people current; the recompute lets time decay reach everyone else).

Safe to run in several processes at once: an expert is recorded once per question (primary key),
and only the run that records them notifies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from sqlalchemy.engine import Engine

from kb.clock import utcnow
from kb.db import unit_of_work
from kb.settings import Settings
from expertise import scores
from expertise.models import ExpertiseScore
from expertise.questions import escalate_unanswered

RECOMPUTE_EVERY = timedelta(days=1)

log = logging.getLogger("kb.periodic")


@dataclass
class ExpertisePeriodicReport:
    escalated: int = 0  # questions escalated to more experts
    recomputed: bool = False  # the daily recompute of expertise scores ran


def run_once(engine: Engine, settings: Settings, *, now: datetime | None = None) -> ExpertisePeriodicReport:
    report = ExpertisePeriodicReport()
    with unit_of_work(engine) as session:
        report.escalated = escalate_unanswered(session=session, now=now)
    with unit_of_work(engine) as session:
        report.recomputed = recompute_when_due(session=session, now=now)
    if report.escalated:
        log.info("periodic: %s", report)
    return report


def recompute_when_due(*, session, now: datetime | None = None) -> bool:
    """Recompute every expertise score when the last full recompute (the oldest ``updated_at``:
    ``recompute_all`` stamps every row) is more than a day old."""
    now = now or utcnow()
    oldest = session.exec(select(func.min(ExpertiseScore.updated_at))).one()
    if oldest is None or now - oldest < RECOMPUTE_EVERY:
        return False
    scores.recompute_all(session)
    return True

