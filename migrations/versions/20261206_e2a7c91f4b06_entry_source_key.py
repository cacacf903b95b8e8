"""entry.source_key: the source of an imported entry, unique per kind

``kb import`` stores each file's ``source_id`` (default: its path in the imported folder) so that
importing the same folder again skips or updates the entries instead of duplicating them.

Revision ID: e2a7c91f4b06
Revises: e5a1c9f3b7d2
Create Date: 2026-12-06 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e2a7c91f4b06'
down_revision: str | None = 'e5a1c9f3b7d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain column and a unique index: no batch table copy, which on SQLite would drop and recreate
# ``entry`` under the rows that reference it.
def upgrade() -> None:
    op.add_column('entry', sa.Column('source_key', sa.String(length=255), nullable=True))
    op.create_index('ix_entry_kind_source_key', 'entry', ['kind', 'source_key'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_entry_kind_source_key', table_name='entry')
    op.drop_column('entry', 'source_key')  # SQLite 3.35+ drops a column in place
