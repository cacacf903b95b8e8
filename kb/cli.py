"""The ``kb`` command line. It is a composition root: it may use every package."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="kb: knowledge base for customer service.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console()
err = Console(stderr=True)


def _settings():
    from kb.settings import ConfigurationError, get_settings

    try:
        return get_settings()
    except ConfigurationError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _engine():
    from kb.db import get_engine

    return get_engine(_settings().sqlalchemy_url)


def _fail(message: str, code: int = 1):
    err.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def init() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from sqlalchemy.exc import OperationalError

    from kb.migrate import current_revision, upgrade

    engine = _engine()
    try:
        upgrade(engine)
    except OperationalError as exc:
        _fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.")
    console.print(f"Database ready at revision [bold]{current_revision(engine)}[/bold].")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from kb.migrate import current_revision, head_revision

    settings = _settings()
    if current_revision(_engine()) != head_revision():
        _fail("the database schema is not up to date. Run `kb init` first.")
    console.print(f"kb serving on http://{host}:{port} ({settings.env} mode, {workers} worker(s))")
    uvicorn.run("web.main:app", host=host, port=port, workers=workers, loop="uvloop", http="httptools",
                proxy_headers=True, log_level="info")


@app.command()
def demo() -> None:
    """Load the demo accounts and content (development mode only; safe to run twice)."""
    from kb.db import unit_of_work
    from kb.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo_accounts

    if _settings().is_production:
        _fail("demo data is only for development mode (KB_ENV=development).", 2)
    with unit_of_work(_engine()) as session:
        created = load_demo_accounts(session)
    console.print(f"Demo accounts: {len(created)} created, {len(DEMO_ACCOUNTS) - len(created)} already there.")
    table = Table(title="Demo logins (password: " + DEMO_PASSWORD + ")")
    table.add_column("Email")
    table.add_column("Roles")
    for email, _, roles in DEMO_ACCOUNTS:
        table.add_row(email, ", ".join(r.value for r in roles))
    console.print(table)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (used to sign in).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[str], typer.Option(help="Role: agent, author, expert or admin. Repeat for several.")],
    password: Annotated[str | None, typer.Option(help="Password; asked for when omitted.")] = None,
) -> None:
    """Create a user. This is how the first administrator is made."""
    from pydantic import ValidationError

    from kb.accounts import service as accounts
    from kb.accounts.schemas import UserCreate
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from kb.messages import validation_messages

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(email=email, display_name=name, roles=role, password=password)
        with unit_of_work(_engine()) as session:
            user = accounts.create_user(session=session, actor=None, data=data)
            summary = f"Created {user.email} ({', '.join(sorted(r.value for r in user.roles))})."
    except ValidationError as exc:
        _fail(" ".join(validation_messages(exc.errors()).values()))
    except DomainError as exc:
        _fail(exc.message)
    console.print(summary)


@user_app.command("token")
def user_token(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "command line",
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from kb.accounts import service as accounts
    from kb.accounts.schemas import TokenCreate
    from kb.db import unit_of_work
    from kb.errors import DomainError

    try:
        with unit_of_work(_engine()) as session:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                _fail(f"no user with the email {email}.")
            _, raw = accounts.create_api_token(session=session, actor=None, user=user, data=TokenCreate(name=name))
    except DomainError as exc:
        _fail(exc.message)
    # The token alone on stdout, so scripts can capture it.
    print(raw)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
