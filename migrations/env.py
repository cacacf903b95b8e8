"""Alembic environment: compares types, batches ALTERs on SQLite, runs on a given connection if any."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

# Every table module, so that the metadata autogenerate compares is complete.
import expertise.models  # noqa: F401
import kb.accounts.models  # noqa: F401
import kb.content.models  # noqa: F401
import search.models  # noqa: F401
import workflow.models  # noqa: F401
from kb.db import make_engine, metadata

config = context.config


def _url() -> str:
    from kb.settings import get_settings

    return config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
