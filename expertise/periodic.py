"""Expertise work done on a timer by ``kb serve`` (and by ``kb expire``): escalating unanswered
questions to more experts.

Safe to run in several processes at once: an expert is recorded once per question (primary key),
and only the run that records them notifies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from kb.db import unit_of_work
from kb.settings import Settings
from expertise.questions import escalate_unanswered

log = logging.getLogger("kb.periodic")


@dataclass
class ExpertisePeriodicReport:
    escalated: int = 0  # questions escalated to more experts


def run_once(engine: Engine, settings: Settings, *, now: datetime | None = None) -> ExpertisePeriodicReport:
    report = ExpertisePeriodicReport()
    with unit_of_work(engine) as session:
        report.escalated = escalate_unanswered(session=session, now=now)
    if report.escalated:
        log.info("periodic: %s", report)
    return report
