"""``kb webhooks``: the webhook sender as a process of its own, and the list of webhooks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import console, ready_engine, settings_or_exit
from kb.accounts.actors import SYSTEM

webhooks_app = typer.Typer(help="Outgoing webhooks: see them, and send their deliveries.", no_args_is_help=True)


@webhooks_app.command("send")
def send(
    once: Annotated[bool, typer.Option("--once", help="Send what is due once and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds.", min=0.05)] = 2.0,
) -> None:
    """Send webhook deliveries as they come due (runs until interrupted; `kb serve` does it too).

    Several senders may run at once: each delivery is claimed by one of them."""
    from workflow.webhook_sender import deliver
    from workflow.webhooks import wait_for_changes

    settings = settings_or_exit()
    engine = ready_engine()
    try:
        while True:
            report = deliver(engine=engine, settings=settings)
            if report or once:
                line = f"Delivered {report.delivered:,} webhook deliveries."
                if report.failed:
                    line += (f" {report.failed:,} attempts failed and will be retried"
                             f"{f' ({report.gave_up:,} gave up: see /admin/webhooks)' if report.gave_up else ''}: "
                             f"{report.errors[-1]}")
                console.print(line, markup=False, soft_wrap=True)
            if once:
                break
            if not report.more:  # a backlog: go on without pausing
                wait_for_changes(interval)
    except KeyboardInterrupt:
        pass


@webhooks_app.command("list")
def list_() -> None:
    """The webhooks, their events and how their deliveries went."""
    from kb.db import session_factory
    from workflow.webhooks import list_webhooks

    with session_factory(ready_engine())() as session:
        hooks = list_webhooks(session=session, actor=SYSTEM)
    table = Table(title=f"{len(hooks)} webhook{'' if len(hooks) == 1 else 's'}", title_justify="left")
    for column in ("Id", "Address", "Events", "Active", "Pending", "Failed", "Delivered"):
        table.add_column(column)
    for s in hooks:
        table.add_row(str(s.webhook.id), escape(s.webhook.url), ", ".join(s.webhook.events),
                      "yes" if s.webhook.active else "paused", str(s.pending), str(s.failed), str(s.delivered))
    console.print(table)
