"""``kb reindex``, ``kb indexer`` and ``kb synonyms``: the search index and its synonym rules."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import console, fail, progress_bar, ready_engine, search_backend, settings_or_exit
from kb.accounts.actors import SYSTEM

synonyms_app = typer.Typer(help="Search synonyms: customers' words and the words articles use for them.",
                           no_args_is_help=True)


def reindex() -> None:
    """Rebuild the search index from the database (searches keep working meanwhile)."""
    from search.service import reindex as rebuild

    settings = settings_or_exit()
    engine = ready_engine()
    backend, lock = search_backend(settings)
    try:
        with progress_bar() as bar:
            task = bar.add_task("Indexing entries", total=None)
            vectors = bar.add_task("Embedding documents", total=None, visible=settings.semantic)
            count = rebuild(engine=engine, backend=backend,
                            progress=lambda done, total: bar.update(task, completed=done, total=total),
                            embed_progress=lambda done, total: bar.update(vectors, completed=done, total=total))
    except Exception as exc:  # the backend is down or refused the documents
        fail(f"the search backend ({backend.name}) failed: {exc}")
    finally:
        if lock is not None:
            lock.release()
    console.print(f"Indexed {count:,} document{'' if count == 1 else 's'} ({backend.name} backend).", markup=False)


def indexer(
    once: Annotated[bool, typer.Option("--once", help="Index every pending change (until the outbox is empty) "
                                       "and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between drains.", min=0.05)] = 1.0,
) -> None:
    """Index changes from the outbox into the search backend (runs until interrupted)."""
    import time

    from search.outbox import drain, drain_backlog

    settings = settings_or_exit()
    engine = ready_engine()
    backend, lock = search_backend(settings)
    try:
        while True:
            report = (drain_backlog if once else drain)(engine=engine, backend=backend, embed=settings.semantic)
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


@synonyms_app.command("list")
def synonyms_list() -> None:
    """The synonym rules: searching a phrase also finds its alternatives."""
    from kb.db import session_factory
    from search import synonyms

    with session_factory(ready_engine())() as session:
        rules = synonyms.list_rules(session=session, actor=SYSTEM)
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
        with unit_of_work(ready_engine()) as session:
            rule = synonyms.save_rule(session=session, actor=SYSTEM, phrase=phrase, alternatives=alternatives)
    except DomainError as exc:
        fail(exc.message)
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
        with unit_of_work(ready_engine()) as session:
            rule = synonyms.delete_rule(session=session, actor=SYSTEM, phrase=phrase)
    except DomainError as exc:
        fail(exc.message)
    console.print(f"Deleted the rule for “{rule.phrase}”.", markup=False)
