"""The ``kb`` command line. It is a composition root: it may use every package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="kb: knowledge base for customer service.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
expert_app = typer.Typer(help="Designate topic experts (who may certify in a topic).", no_args_is_help=True)
app.add_typer(expert_app, name="expert")
expertise_app = typer.Typer(help="Expertise scores per user and topic.", no_args_is_help=True)
app.add_typer(expertise_app, name="expertise")
synonyms_app = typer.Typer(help="Search synonyms: customers' words and the words articles use for them.",
                           no_args_is_help=True)
app.add_typer(synonyms_app, name="synonyms")
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
    from search import outbox
    from workflow import periodic
    from expertise import reactions

    periodic.register()  # reactions to domain events (flags closed on certification, ...)
    outbox.register()  # changes that affect search write outbox rows for the indexer
    reactions.register()  # ratings, reputation, expertise scores, routing
    return get_engine(_settings().sqlalchemy_url)


def _fail(message: str, code: int = 1):
    # Plain text (paths may contain [brackets]), on one line so scripts can grep it.
    err.print("[red]Error:[/red]", escape(message), soft_wrap=True)
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
    from kb.demo import DEMO_ACCOUNTS, DEMO_AGENTS, DEMO_AUTHORS, DEMO_PASSWORD, load_demo_accounts, load_demo_content
    from kb.errors import DomainError

    if _settings().is_production:
        _fail("demo data is only for development mode (KB_ENV=development).", 2)
    from workflow.demo import load_demo_workflow
    from search.synonyms import load_demo_synonyms
    from expertise.demo import load_demo_expertise

    try:
        with unit_of_work(_engine()) as session:
            created = load_demo_accounts(session)
            content = load_demo_content(session)
            states = load_demo_workflow(session)
            synonyms_added = load_demo_synonyms(session)
            ratings = load_demo_expertise(session)
    except DomainError as exc:
        _fail(exc.message)
    console.print(f"Demo accounts: {len(created)} created, {len(DEMO_ACCOUNTS) - len(created)} already there.")
    if content.articles or content.questions:
        console.print(f"Demo content: {content.articles} articles, {content.questions} questions and "
                      f"{content.answers} answers loaded ({content.skipped} already there).")
    else:
        console.print(f"Demo content: already loaded ({content.skipped} entries there).")
    if not states.skipped:
        summary = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(states.states.items()))
        console.print(f"Demo workflow: articles {summary}; {states.flags} flagged; "
                      f"{states.needs_reverification} need re-verification.")
    if not ratings.skipped:
        console.print(f"Demo ratings: {ratings.votes} votes, {ratings.reuses} case links, {ratings.searches} searches, "
                      f"{ratings.endorsements} endorsements; {ratings.scores} expertise scores computed.")
    if synonyms_added:
        console.print(f"Demo search synonyms: {synonyms_added} rules added (kb synonyms list).")
    table = Table(title="Demo logins (password: " + DEMO_PASSWORD + ")")
    table.add_column("Email")
    table.add_column("Roles")
    for email, _, roles in (*DEMO_ACCOUNTS, *DEMO_AUTHORS, *DEMO_AGENTS):
        table.add_row(email, ", ".join(r.value for r in roles))
    console.print(table)


def _ready_engine():
    """The engine, once the schema is known to be current (exit 2 otherwise)."""
    from sqlalchemy.exc import OperationalError

    from kb.migrate import current_revision, head_revision

    engine = _engine()
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        _fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.", 2)
    if current != head_revision():
        _fail("the database schema is not up to date. Run `kb init` first.", 2)
    return engine


def _acting_user(engine, email: str | None):
    """The user named by --as, or the first administrator."""
    from sqlmodel import select

    from kb.accounts import service as accounts
    from kb.accounts.models import Role, User, UserRole
    from kb.db import session_factory

    with session_factory(engine)() as session:
        if email:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                _fail(f"no user with the email {email}.", 2)
            return user
        user = session.exec(
            select(User).join(UserRole).where(UserRole.role == Role.admin.value, User.is_active.is_(True))
            .order_by(User.id)
        ).first()
        if user is None:
            _fail("there is no administrator yet. Create one with `kb user create --role admin ...`, "
                  "or name the importing user with --as EMAIL.", 2)
        return user


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="Folder of Markdown files with front matter (searched recursively).",
                                         show_default=False)],
    as_email: Annotated[str | None, typer.Option("--as", help="Import as this user (default: the first admin).",
                                                 show_default=False)] = None,
) -> None:
    """Import articles and questions from Markdown files (exit 1 when some files are refused)."""
    from sqlalchemy.exc import SQLAlchemyError

    from kb.content.transfer import import_folder
    from kb.errors import DomainError

    if not path.is_dir():
        _fail(f"the folder {path} does not exist." if not path.exists() else f"{path} is not a folder.", 2)
    engine = _ready_engine()
    importer = _acting_user(engine, as_email)
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Importing", total=None)
            report = import_folder(engine=engine, path=path, actor_email=importer.email,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DomainError as exc:
        _fail(exc.message, 2)
    except SQLAlchemyError as exc:
        _fail(f"the database stopped the import ({getattr(exc, 'orig', exc)}). Files imported so far stay.")
    if report.files == 0:
        _fail(f"no Markdown files (*.md) in {path}.", 2)
    console.print(f"Imported {report.imported:,} of {report.files:,} files ({report.articles:,} articles, "
                  f"{report.questions:,} questions; {report.tags_created:,} new tags) as {importer.email} "
                  f"in {report.seconds:.1f} s.", markup=False, soft_wrap=True)
    if report.refused:
        table = Table(title=f"{len(report.refused):,} files refused", title_justify="left")
        table.add_column("File", overflow="fold")
        table.add_column("Reason", overflow="fold")
        for file, reason in report.refused:
            table.add_row(escape(str(file)), escape(reason))
        console.print(table)
        raise typer.Exit(1)


@app.command("export")
def export(
    path: Annotated[Path, typer.Argument(help="Folder to write the Markdown files to (created if missing).",
                                         show_default=False)],
    as_email: Annotated[str | None, typer.Option("--as", help="Export what this user can see (default: the first "
                                                 "admin, who sees everything).", show_default=False)] = None,
) -> None:
    """Export every article and question as a Markdown file with front matter."""
    import time

    from kb.content.transfer import export_folder
    from kb.errors import DomainError

    if path.exists() and not path.is_dir():
        _fail(f"{path} is a file; give a folder to export into.", 2)
    engine = _ready_engine()
    actor = _acting_user(engine, as_email)
    started = time.perf_counter()
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Exporting", total=None)
            written = export_folder(engine=engine, path=path, actor=actor,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DomainError as exc:
        _fail(exc.message, 2)
    except OSError as exc:
        _fail(f"cannot write to {path} ({exc.strerror}).", 2)
    console.print(f"Exported {written:,} entries to {path} in {time.perf_counter() - started:.1f} s.", markup=False,
                  soft_wrap=True)


@app.command()
def expire(
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO 8601, e.g. "
                                            "2030-01-31T09:00; UTC unless an offset is given). For tests and "
                                            "dry rehearsals.", show_default=False)] = None,
) -> None:
    """Send expiry reminders, mark expired certifications as needing re-verification, and escalate
    unanswered questions to more experts (run it at least daily)."""
    from datetime import datetime

    from sqlalchemy.exc import SQLAlchemyError

    from kb.db import unit_of_work
    from expertise import periodic as expertise_periodic
    from kb.errors import DomainError
    from workflow.expiry import as_utc, sweep

    moment = None
    if now is not None:
        try:
            moment = as_utc(datetime.fromisoformat(now))
        except ValueError:
            _fail(f"--now {now!r} is not an ISO 8601 date or time, such as 2030-01-31 or 2030-01-31T09:00.", 2)
    engine = _ready_engine()
    try:
        with unit_of_work(engine) as session:
            report = sweep(session=session, now=moment)
    except DomainError as exc:
        _fail(exc.message)
    except SQLAlchemyError as exc:
        _fail(f"the database stopped the sweep ({getattr(exc, 'orig', exc)}); nothing was changed. Run it again.")
    reminders, stale = report.reminders_sent, report.needs_reverification
    console.print(f"Sent {reminders} expiry reminder{'' if reminders == 1 else 's'}; "
                  f"{stale} {'entry now needs' if stale == 1 else 'entries now need'} re-verification.",
                  markup=False, soft_wrap=True)
    try:  # its own transaction: the sweep above is kept even if this fails
        escalated = expertise_periodic.run_once(engine, _settings(), now=moment).escalated
    except SQLAlchemyError as exc:
        _fail(f"the database stopped escalating unanswered questions ({getattr(exc, 'orig', exc)}); "
              "run it again.")
    console.print(f"Escalated {escalated} unanswered question{'' if escalated == 1 else 's'} to more experts.",
                  markup=False, soft_wrap=True)


def _search_backend(settings):
    """The configured backend; in embedded mode also the indexer lock (one writing process)."""
    from search.factory import backend_for
    from search.outbox import drain_lock

    lock = None
    if settings.search_backend == "embedded":
        lock = drain_lock(settings.data_dir)
        if not lock.acquire():
            _fail("another process (kb serve or kb indexer) is writing the embedded search index. Stop it, "
                  "or let it do the indexing.", 2)
    return backend_for(settings), lock


@app.command()
def reindex() -> None:
    """Rebuild the search index from the database (searches keep working meanwhile)."""
    from search.service import reindex as rebuild

    settings = _settings()
    engine = _ready_engine()
    backend, lock = _search_backend(settings)
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Indexing entries", total=None)
            vectors = bar.add_task("Embedding documents", total=None, visible=settings.semantic)
            count = rebuild(engine=engine, backend=backend,
                            progress=lambda done, total: bar.update(task, completed=done, total=total),
                            embed_progress=lambda done, total: bar.update(vectors, completed=done, total=total))
    except Exception as exc:  # the backend is down or refused the documents
        _fail(f"the search backend ({backend.name}) failed: {exc}")
    finally:
        if lock is not None:
            lock.release()
    console.print(f"Indexed {count:,} document{'' if count == 1 else 's'} ({backend.name} backend).", markup=False)


@app.command()
def indexer(
    once: Annotated[bool, typer.Option("--once", help="Drain the outbox once and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between drains.", min=0.05)] = 1.0,
) -> None:
    """Index changes from the outbox into the search backend (runs until interrupted)."""
    import time

    from search.outbox import drain

    settings = _settings()
    engine = _ready_engine()
    backend, lock = _search_backend(settings)
    try:
        while True:
            report = drain(engine=engine, backend=backend, embed=settings.semantic)
            if report.rows or report.embedded or once:
                line = (f"Indexed {report.entries:,} entries ({report.indexed:,} documents, "
                        f"{report.deleted:,} deletions) from {report.rows:,} outbox rows.")
                if report.embedded:
                    line += f" Computed vectors for {report.embedded:,} documents."
                if report.failed:
                    line += f" {report.failed:,} rows failed and will be retried: {report.error}"
                console.print(line, markup=False, soft_wrap=True)
            if once:
                break
            if not report.embedded:  # vectors still to compute: go on without pausing
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        if lock is not None:
            lock.release()


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup to.", show_default=False)],
) -> None:
    """Back up the database and the attachments while kb keeps running (with a checksummed manifest)."""
    from kb.backup import BackupError, create_backup

    settings = _settings()
    engine = _ready_engine()
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Backing up", total=None)
            report = create_backup(engine=engine, data_dir=settings.data_dir, path=path,
                                   progress=lambda step: bar.update(task, description=step))
    except BackupError as exc:
        _fail(str(exc), 2)
    except OSError as exc:
        _fail(f"cannot write the backup to {path} ({exc.strerror}).", 2)
    console.print(f"Backed up the {report.database} database (schema {report.schema}; {report.counts['entry']:,} "
                  f"entries, {report.counts['revision']:,} revisions, {report.counts['workflow_event']:,} audit "
                  f"events) and {report.counts['attachment']:,} attachments to {path}: {report.files:,} files, "
                  f"{report.bytes:,} bytes.", markup=False, soft_wrap=True)


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A folder written by `kb backup`.", show_default=False)],
) -> None:
    """Restore a backup into an empty data directory and empty database, then rebuild the search index."""
    from sqlalchemy.exc import OperationalError

    from kb.backup import BackupError, restore_backup
    from search.service import reindex as rebuild

    settings = _settings()
    engine = _engine()
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Restoring", total=None)
            report = restore_backup(engine=engine, data_dir=settings.data_dir, path=path,
                                    progress=lambda step: bar.update(task, description=step))
    except BackupError as exc:
        _fail(str(exc), 2)
    except OperationalError as exc:
        _fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.", 2)
    console.print(f"Restored {report.counts['entry']:,} entries, {report.counts['revision']:,} revisions, "
                  f"{report.counts['workflow_event']:,} audit events and {report.counts['attachment']:,} attachments "
                  f"from {path} (schema {report.schema}).", markup=False, soft_wrap=True)
    backend, lock = _search_backend(settings)
    try:
        # The index may hold documents newer than the backup (Meilisearch outlives the database):
        # empty it, then rebuild it from the restored database only.
        backend.clear()
        count = rebuild(engine=engine, backend=backend)
    except Exception as exc:  # the backend is down or refused the documents
        _fail(f"the data is restored, but the search backend ({backend.name}) failed: {exc}. Run `kb reindex` "
              "once it is up.")
    finally:
        if lock is not None:
            lock.release()
    console.print(f"Search index rebuilt: {count:,} documents ({backend.name} backend).", markup=False)


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


def _designation(email: str, topic: str, *, remove: bool) -> str:
    from kb.accounts import service as accounts
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from workflow import policy

    try:
        with unit_of_work(_ready_engine()) as session:
            user = accounts.find_user_by_email(session=session, email=email)
            if user is None:
                _fail(f"no user with the email {email}.", 2)
            change = policy.remove_expert if remove else policy.designate_expert
            change(session=session, actor=None, topic=topic, user=user)
            return user.display_name
    except DomainError as exc:
        _fail(exc.message)


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

    with session_factory(_ready_engine())() as session:
        table = Table(title="Designated experts")
        table.add_column("Topic")
        table.add_column("Experts")
        for topic, users in policy.experts_by_topic(session).items():
            table.add_row(topic, ", ".join(f"{u.display_name} <{u.email}>" for u in users))
    console.print(table)


@expertise_app.command("recompute")
def expertise_recompute() -> None:
    """Recompute every expertise score from the evidence (run it daily: old evidence fades)."""
    from sqlalchemy.exc import SQLAlchemyError

    from expertise.scores import recompute_all
    from kb.db import unit_of_work

    try:
        with unit_of_work(_ready_engine()) as session, _progress_bar() as bar:
            task = bar.add_task("Recomputing expertise", total=None)
            rows = recompute_all(session, progress=lambda done, total: bar.update(task, completed=done, total=total))
    except SQLAlchemyError as exc:
        _fail(f"the database stopped the recompute ({getattr(exc, 'orig', exc)}); nothing was changed. Run it again.")
    console.print(f"Expertise recomputed: {rows:,} user and topic score{'' if rows == 1 else 's'}.", markup=False)


@synonyms_app.command("list")
def synonyms_list() -> None:
    """The synonym rules: searching a phrase also finds its alternatives."""
    from kb.db import session_factory
    from search import synonyms

    with session_factory(_ready_engine())() as session:
        rules = synonyms.list_rules(session=session, actor=None)
    table = Table(title=f"{len(rules)} search synonym rule{'' if len(rules) == 1 else 's'}", title_justify="left")
    table.add_column("Word or phrase")
    table.add_column("Also finds")
    for rule in rules:
        table.add_row(escape(rule.phrase), escape(", ".join(rule.alternatives)))
    console.print(table)


@synonyms_app.command("add")
def synonyms_add(
    phrase: Annotated[str, typer.Argument(help="What customers say (1-4 words), e.g. \"money back\".",
                                          show_default=False)],
    alternatives: Annotated[list[str], typer.Argument(help="What articles say, e.g. refund. Several allowed.",
                                                      show_default=False)],
) -> None:
    """Add a rule, or replace the alternatives of the rule for PHRASE."""
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from search import synonyms

    try:
        with unit_of_work(_ready_engine()) as session:
            rule = synonyms.save_rule(session=session, actor=None, phrase=phrase, alternatives=alternatives)
    except DomainError as exc:
        _fail(exc.message)
    console.print(f"Searching “{rule.phrase}” also finds: {', '.join(rule.alternatives)}. Running servers use it "
                  f"within {int(synonyms.SYNC_SECONDS)} seconds.", markup=False, soft_wrap=True)


@synonyms_app.command("remove")
def synonyms_remove(
    phrase: Annotated[str, typer.Argument(help="The word or phrase of the rule.", show_default=False)],
) -> None:
    """Delete the rule for PHRASE."""
    from kb.db import unit_of_work
    from kb.errors import DomainError
    from search import synonyms

    try:
        with unit_of_work(_ready_engine()) as session:
            rule = synonyms.delete_rule(session=session, actor=None, phrase=phrase)
    except DomainError as exc:
        _fail(exc.message)
    console.print(f"Deleted the rule for “{rule.phrase}”.", markup=False)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
