"""Work done on a timer by ``kb serve`` (and by ``kb expire``): expiry, reminders, email.

Every step is safe to run in several processes at once: the sweep and the mailer claim rows with
conditional updates, so a reminder or an email goes out once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from kb.db import unit_of_work
from kb.settings import Settings
from workflow import audit, expiry, flags, mailer

log = logging.getLogger("kb.periodic")


def register() -> None:
    """Subscribe the workflow's reactions to domain events (idempotent)."""
    flags.register()
    audit.register()  # administrative changes announced by kb and search go into the audit trail


@dataclass
class PeriodicReport:
    reminders: int = 0
    expired: int = 0
    emails: int = 0
    digests: int = 0


def run_once(engine: Engine, settings: Settings) -> PeriodicReport:
    report = PeriodicReport()
    with unit_of_work(engine) as session:
        swept = expiry.sweep(session=session)
        report.reminders, report.expired = swept.reminders_sent, swept.needs_reverification
    with unit_of_work(engine) as session:
        report.emails = mailer.deliver_pending(session=session, settings=settings)
    with unit_of_work(engine) as session:
        report.digests = mailer.send_digests(session=session, settings=settings)
    if report.reminders or report.expired or report.emails or report.digests:
        log.info("periodic: %s", report)
    return report
