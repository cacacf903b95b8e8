"""search_log.key: the handle a result link carries to record the click

The query log is written in batches off the request path (``search.querylog_writer``), so a search has
no row id when its results are shown; the key, made when the search is served, names it instead.
Rows logged before have no key (their clicks are recorded already).

Revision ID: b4e8d2a6c913
Revises: 1cf1643eb7a6
Create Date: 2026-12-07 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b4e8d2a6c913'
down_revision: str | None = '1cf1643eb7a6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('search_log', sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.create_index(op.f('ix_search_log_key'), 'search_log', ['key'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_search_log_key'), table_name='search_log')
    op.drop_column('search_log', 'key')
