"""``kb expert`` (who is a designated expert of a topic) and ``kb expertise`` (scores)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, fail, progress_bar, ready_engine
from kb.accounts.actors import SYSTEM

expert_app = typer.Typer(help="Designate topic experts (who may certify in a topic).", no_args_is_help=True)
expertise_app = typer.Typer(help="Expertise scores per user and topic.", no_args_is_help=True)


def _designation(email: str, topic: str, *, remove: bool) -> str:
    from kb.accounts import service as accounts
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from workflow import policy

    try:
        with unit_of_work(ready_engine()) as session:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                fail(f"no user with the email {email}.", 2)
            change = policy.remove_expert if remove else policy.designate_expert
            change(session=session, actor=SYSTEM, topic=topic, user=user)
            return user.display_name
    except DomainError as exc:
        fail(exc.message)


@expert_app.command("add")
def expert_add(
    email: Annotated[str, typer.Option(help="The expert's email.")],
    topic: Annotated[list[str], typer.Option(help="A topic (tag). Repeat for several.")],
) -> None:
    """Designate a user (with the expert role) as expert of one or more topics."""
    for name in topic:
        who = _designation(email, name, remove=False)
        console.print(f"{who} is now a designated expert of {name}.")


@expert_app.command("remove")
def expert_remove(
    email: Annotated[str, typer.Option(help="The expert's email.")],
    topic: Annotated[list[str], typer.Option(help="A topic (tag). Repeat for several.")],
) -> None:
    """Stop designating a user as expert of topics."""
    for name in topic:
        who = _designation(email, name, remove=True)
        console.print(f"{who} is no longer a designated expert of {name}.")


@expert_app.command("list")
def expert_list() -> None:
    """Designated experts per topic."""
    from kb.db import session_factory
    from workflow import policy

    with session_factory(ready_engine())() as session:
        table = Table(title="Designated experts")
        table.add_column("Topic")
        table.add_column("Experts")
        for topic, users in policy.experts_by_topic(session=session).items():
            table.add_row(topic, ", ".join(f"{u.display_name} <{u.email}>" for u in users))
    console.print(table)


@expertise_app.command("recompute")
def expertise_recompute() -> None:
    """Recompute every expertise score from the evidence (run it daily: old evidence fades)."""
    from sqlalchemy.exc import SQLAlchemyError

    from expertise.scores import recompute_all
    from kb.db import unit_of_work

    try:
        with unit_of_work(ready_engine()) as session, progress_bar() as bar:
            task = bar.add_task("Recomputing expertise", total=None)
            rows = recompute_all(session=session, progress=lambda done, total: bar.update(task, completed=done, total=total))
    except SQLAlchemyError as exc:
        fail(f"the database stopped the recompute ({getattr(exc, 'orig', exc)}); nothing was changed. Run it again.")
    console.print(f"Expertise recomputed: {rows:,} user and topic score{'' if rows == 1 else 's'}.", markup=False)
