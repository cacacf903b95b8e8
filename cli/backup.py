"""``kb backup`` and ``kb restore``: the database and the attachments, with a checksummed manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, engine, fail, progress_bar, ready_engine, search_backend, settings_or_exit


def backup(
    path: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup to.", show_default=False)],
) -> None:
    """Back up the database and the attachments while kb keeps running (with a checksummed manifest)."""
    from kb.backup import BackupError, create_backup

    settings = settings_or_exit()
    database = ready_engine()
    try:
        with progress_bar() as bar:
            task = bar.add_task("Backing up", total=None)
            report = create_backup(engine=database, data_dir=settings.data_dir, path=path,
                                   progress=lambda step: bar.update(task, description=step))
    except BackupError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"cannot write the backup to {path} ({exc.strerror}).", 2)
    console.print(f"Backed up the {report.database} database (schema {report.schema}; {report.counts['entry']:,} "
                  f"entries, {report.counts['revision']:,} revisions, {report.counts['workflow_event']:,} audit "
                  f"events) and {report.counts['attachment']:,} attachments to {path}: {report.files:,} files, "
                  f"{report.bytes:,} bytes.", markup=False, soft_wrap=True)


def restore(
    path: Annotated[Path, typer.Argument(help="A folder written by `kb backup`.", show_default=False)],
) -> None:
    """Restore a backup into an empty data directory and empty database, then rebuild the search index."""
    from sqlalchemy.exc import OperationalError

    from kb.backup import BackupError, restore_backup
    from search.service import reindex as rebuild

    settings = settings_or_exit()
    database = engine()
    try:
        with progress_bar() as bar:
            task = bar.add_task("Restoring", total=None)
            report = restore_backup(engine=database, data_dir=settings.data_dir, path=path,
                                    progress=lambda step: bar.update(task, description=step))
    except BackupError as exc:
        fail(str(exc), 2)
    except OperationalError as exc:
        fail(f"cannot reach the database ({exc.orig}). Check KB_DATABASE_URL.", 2)
    console.print(f"Restored {report.counts['entry']:,} entries, {report.counts['revision']:,} revisions, "
                  f"{report.counts['workflow_event']:,} audit events and {report.counts['attachment']:,} attachments "
                  f"from {path} (schema {report.schema}).", markup=False, soft_wrap=True)
    backend, lock = search_backend(settings)
    try:
        # The index may hold documents newer than the backup (Meilisearch outlives the database):
        # empty it, then rebuild it from the restored database only.
        backend.clear()
        count = rebuild(engine=database, backend=backend)
    except Exception as exc:  # the backend is down or refused the documents
        fail(f"the data is restored, but the search backend ({backend.name}) failed: {exc}. Run `kb reindex` "
             "once it is up.")
    finally:
        if lock is not None:
            lock.release()
    console.print(f"Search index rebuilt: {count:,} documents ({backend.name} backend).", markup=False)
