"""``kb import`` and ``kb export``: articles, questions and their answers as Markdown files with
front matter, with their workflow state (``workflow.transfer``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import acting_user, console, fail, progress_bar, ready_engine


def import_(
    path: Annotated[Path, typer.Argument(help="Folder of Markdown files with front matter (searched recursively).",
                                         show_default=False)],
    as_email: Annotated[str | None, typer.Option("--as", help="Import as this user (default: the first admin).",
                                                 show_default=False)] = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="draft or certified, for every file (default: each file's `state:`, else draft).",
        show_default=False)] = None,
    certified_by: Annotated[str | None, typer.Option(
        "--certified-by", help="Email of the expert or admin who certified the content (with --state certified; "
        "default: each file's `certified_by:`).", show_default=False)] = None,
    valid_days: Annotated[int | None, typer.Option(
        "--valid-days", min=1, max=3650, help="Certified content stays valid this many days from the import "
        "(default: each file's `valid_until:`, else the topic policy).", show_default=False)] = None,
    on_existing: Annotated[str, typer.Option(
        "--on-existing", help="A file imported before (same source_id): skip it, or update its entry with a new "
        "revision when the file changed.")] = "skip",
) -> None:
    """Import articles, questions and answers from Markdown files (exit 1 when some files are refused)."""
    from sqlalchemy.exc import SQLAlchemyError

    from kb.content.transfer import ImportOptions
    from kb.errors import DomainError
    from workflow.transfer import import_folder

    if not path.is_dir():
        fail(f"the folder {path} does not exist." if not path.exists() else f"{path} is not a folder.", 2)
    if state not in (None, "draft", "certified"):
        fail(f"--state must be draft or certified, not {state}.", 2)
    if on_existing not in ("skip", "update"):
        fail(f"--on-existing must be skip or update, not {on_existing}.", 2)
    if certified_by and state != "certified":
        fail("--certified-by goes with --state certified.", 2)
    options = ImportOptions(state=state, certified_by=certified_by.strip().lower() if certified_by else None,
                            valid_days=valid_days, on_existing=on_existing)
    engine = ready_engine()
    importer = acting_user(engine, as_email)
    try:
        with progress_bar() as bar:
            task = bar.add_task("Importing", total=None)
            report = import_folder(engine=engine, path=path, actor_email=importer.email, options=options,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DomainError as exc:
        fail(exc.message, 2)
    except SQLAlchemyError as exc:
        fail(f"the database stopped the import ({getattr(exc, 'orig', exc)}). Files imported so far stay.")
    if report.files == 0:
        fail(f"no Markdown files (*.md) in {path}.", 2)
    console.print(f"Imported {report.imported:,} of {report.files:,} files ({report.articles:,} articles, "
                  f"{report.questions:,} questions, {report.answers:,} answers; {report.tags_created:,} new tags) "
                  f"as {importer.email} in {report.seconds:.1f} s.", markup=False, soft_wrap=True)
    console.print(f"{report.created:,} created, {report.updated:,} updated, {report.skipped:,} skipped (imported "
                  f"before), {len(report.refused):,} refused; {report.certified:,} certified on import.",
                  markup=False, soft_wrap=True)
    if report.refused:
        table = Table(title=f"{len(report.refused):,} files refused", title_justify="left")
        table.add_column("File", overflow="fold")
        table.add_column("Reason", overflow="fold")
        for file, reason in report.refused:
            table.add_row(escape(str(file)), escape(reason))
        console.print(table)
        raise typer.Exit(1)


def export(
    path: Annotated[Path, typer.Argument(help="Folder to write the Markdown files to (created if missing).",
                                         show_default=False)],
    as_email: Annotated[str | None, typer.Option("--as", help="Export what this user can see (default: the first "
                                                 "admin, who sees everything).", show_default=False)] = None,
) -> None:
    """Export every article and question (with its answers and workflow state) as a Markdown file."""
    import time

    from kb.errors import DomainError
    from workflow.transfer import export_folder

    if path.exists() and not path.is_dir():
        fail(f"{path} is a file; give a folder to export into.", 2)
    engine = ready_engine()
    actor = acting_user(engine, as_email)
    started = time.perf_counter()
    try:
        with progress_bar() as bar:
            task = bar.add_task("Exporting", total=None)
            report = export_folder(engine=engine, path=path, actor=actor,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DomainError as exc:
        fail(exc.message, 2)
    except OSError as exc:
        fail(f"cannot write to {path} ({exc.strerror}).", 2)
    console.print(f"Exported {report.files:,} entries to {path} ({report.answers:,} answers in their questions' "
                  f"files; {report.certified:,} certified) in {time.perf_counter() - started:.1f} s.", markup=False,
                  soft_wrap=True)
