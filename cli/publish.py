"""``kb publish PATH``: the static, customer-facing help centre (``kb.content.help_centre``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, fail, ready_engine, settings_or_exit


def publish(
    path: Annotated[Path, typer.Argument(help="Folder to write the help centre to (created; an earlier help centre "
                                         "there is replaced).", show_default=False)],
) -> None:
    """Write the certified text of customer-facing articles as static HTML pages with search."""
    from kb.content.help_centre import publish_help_centre
    from kb.db import session_factory
    from kb.errors import DomainError

    engine = ready_engine()
    settings = settings_or_exit()
    try:
        with session_factory(engine)() as session:
            report = publish_help_centre(session=session, data_dir=settings.data_dir, path=path)
    except DomainError as exc:
        fail(exc.message, 2)
    except OSError as exc:
        fail(f"cannot write to {path} ({exc.strerror}).", 2)
    console.print(f"Published {report.articles:,} articles in {len(report.topics):,} topics ({report.files:,} files) "
                  f"to {report.path}: open {report.path / 'index.html'}.", markup=False, soft_wrap=True)
