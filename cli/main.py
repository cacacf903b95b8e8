"""The ``kb`` application: its command groups, and the commands that set up and serve kb."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli import backup, content, demo, expire, experts, publish, search_index, users, webhooks
from cli.common import console, engine, fail, settings_or_exit

app = typer.Typer(help="kb: knowledge base for customer service.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
app.add_typer(users.user_app, name="user")
app.add_typer(experts.expert_app, name="expert")
app.add_typer(experts.expertise_app, name="expertise")
app.add_typer(search_index.synonyms_app, name="synonyms")
app.add_typer(webhooks.webhooks_app, name="webhooks")


@app.command()
def init() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from sqlalchemy.exc import OperationalError

    from kb.migrate import current_revision, upgrade

    database = engine()
    try:
        upgrade(database)
    except OperationalError as exc:
        fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.")
    console.print(f"Database ready at revision [bold]{current_revision(database)}[/bold].")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from kb.migrate import current_revision, head_revision

    settings = settings_or_exit()
    if current_revision(engine()) != head_revision():
        fail("the database schema is not up to date. Run `kb init` first.")
    console.print(f"kb serving on http://{host}:{port} ({settings.env} mode, {workers} worker(s))")
    uvicorn.run("cli.asgi:app", host=host, port=port, workers=workers, loop="uvloop", http="httptools",
                proxy_headers=True, log_level="info")


# The other commands, in the order `kb --help` lists them.
app.command()(demo.demo)
app.command("import")(content.import_)
app.command("export")(content.export)
app.command()(publish.publish)
app.command()(expire.expire)
app.command()(search_index.reindex)
app.command()(search_index.indexer)
app.command()(backup.backup)
app.command()(backup.restore)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
