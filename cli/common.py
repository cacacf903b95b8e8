"""What every command shares: the consoles, settings, the database engine and the error exit."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def settings_or_exit():
    """The settings, or exit 2 with the configuration error as a sentence."""
    from kb.settings import ConfigurationError, get_settings

    try:
        return get_settings()
    except ConfigurationError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def engine():
    """The database engine, after ``bootstrap()``: every write reaches search, workflow and expertise."""
    from cli.bootstrap import bootstrap
    from kb.db import get_engine

    bootstrap()
    return get_engine(settings_or_exit().sqlalchemy_url)


def fail(message: str, code: int = 1):
    # Plain text (paths may contain [brackets]), on one line so scripts can grep it.
    err.print("[red]Error:[/red]", escape(message), soft_wrap=True)
    raise typer.Exit(code)


def ready_engine():
    """The engine, once the schema is known to be current (exit 2 otherwise)."""
    from sqlalchemy.exc import OperationalError

    from kb.migrate import current_revision, head_revision

    ready = engine()
    try:
        current = current_revision(ready)
    except OperationalError as exc:
        fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.", 2)
    if current != head_revision():
        fail("the database schema is not up to date. Run `kb init` first.", 2)
    return ready


def acting_user(engine, email: str | None):
    """The user named by --as, or the first administrator."""
    from sqlmodel import select

    from kb.accounts import service as accounts
    from kb.accounts.models import Role, User, UserRole
    from kb.db import session_factory

    with session_factory(engine)() as session:
        if email:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                fail(f"no user with the email {email}.", 2)
            return user
        user = session.exec(
            select(User).join(UserRole).where(UserRole.role == Role.admin.value, User.is_active.is_(True))
            .order_by(User.id)
        ).first()
        if user is None:
            fail("there is no administrator yet. Create one with `kb user create --role admin ...`, "
                 "or name the importing user with --as EMAIL.", 2)
        return user


def progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def search_backend(settings):
    """The configured backend; in embedded mode also the indexer lock (one writing process)."""
    from search.factory import backend_for
    from search.outbox import drain_lock

    lock = None
    if settings.search_backend == "embedded":
        lock = drain_lock(settings.data_dir)
        if not lock.acquire():
            fail("another process (kb serve or kb indexer) is writing the embedded search index. Stop it, "
                 "or let it do the indexing.", 2)
    return backend_for(settings), lock
