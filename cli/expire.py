"""``kb expire``: every periodic job once, as ``kb serve`` runs them on a timer (for cron)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cli.common import console, err, fail, ready_engine, settings_or_exit

# What each periodic job does, for the sentence that says it failed.
JOB_WORK = {"expiry": "the sweep", "mail": "sending notification emails", "digests": "sending digest emails",
            "escalation": "escalating unanswered questions", "expertise recompute": "recomputing expertise",
            "webhooks": "sending webhooks"}


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def expire(
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO 8601, e.g. "
                                            "2030-01-31T09:00; UTC unless an offset is given). For tests and "
                                            "dry rehearsals.", show_default=False)] = None,
) -> None:
    """Run every periodic job once, including email, as `kb serve` does on a timer (from cron).

    Sends expiry reminders, marks expired certifications as needing re-verification, sends
    notification emails and digests, escalates unanswered questions to more experts and recomputes
    expertise once a day. Run it at least daily when no `kb serve` runs the jobs.
    """
    import logging
    from datetime import datetime

    from kb.jobs import run_periodic
    from workflow.expiry import as_utc

    moment = None
    if now is not None:
        try:
            moment = as_utc(datetime.fromisoformat(now))
        except ValueError:
            fail(f"--now {now!r} is not an ISO 8601 date or time, such as 2030-01-31 or 2030-01-31T09:00.", 2)
    engine = ready_engine()
    logging.getLogger("kb.periodic").addHandler(logging.NullHandler())  # failures are reported below
    run = run_periodic(engine, settings_or_exit(), now=moment)
    results = run.results
    if "expiry" in results:
        swept = results["expiry"]
        stale = swept.needs_reverification
        console.print(f"Sent {_plural(swept.reminders_sent, 'expiry reminder', 'expiry reminders')}; "
                      f"{stale} {'entry now needs' if stale == 1 else 'entries now need'} re-verification.",
                      markup=False, soft_wrap=True)
    if "mail" in results or "digests" in results:
        console.print(f"Emailed {_plural(results.get('mail', 0), 'notification', 'notifications')} and "
                      f"{_plural(results.get('digests', 0), 'digest', 'digests')}.", markup=False, soft_wrap=True)
    if "escalation" in results:
        escalated = results["escalation"]
        console.print(f"Escalated {_plural(escalated, 'unanswered question', 'unanswered questions')} to more "
                      "experts.", markup=False, soft_wrap=True)
    if results.get("webhooks"):
        sent = results["webhooks"]
        line = f"Sent {_plural(sent.delivered, 'webhook delivery', 'webhook deliveries')}"
        line += f"; {_plural(sent.failed, 'attempt', 'attempts')} failed and will be retried." if sent.failed else "."
        console.print(line, markup=False, soft_wrap=True)
    # Each job has its own transaction: the others' work is kept. Every failure is said; exit 1.
    messages = [_failure(name, exc) for name, exc in run.failures.items()]
    for message in messages[:-1]:
        err.print("[red]Error:[/red]", escape(message), soft_wrap=True)
    if messages:
        fail(messages[-1])


def _failure(job: str, exc: Exception) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    from kb.errors import DomainError

    work = JOB_WORK.get(job, f"the periodic job {job}")
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, SQLAlchemyError):
        return f"the database stopped {work} ({getattr(exc, 'orig', exc)}); nothing of it was changed. Run it again."
    return f"{work} failed ({type(exc).__name__}: {exc}); the other jobs ran. Run it again."
