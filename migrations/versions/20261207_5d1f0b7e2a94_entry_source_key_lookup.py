"""entry.source_key on its own: the index ``kb import`` looks source keys up by

The unique (kind, source_key) index serves only lookups that name the kind; ``kb import`` asks for a
batch of keys of any kind, which read the whole entry table per batch on SQLite and, on PostgreSQL
before the table was first analysed, took seconds per batch.

Revision ID: 5d1f0b7e2a94
Revises: 9371cc506827
Create Date: 2026-12-07 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '5d1f0b7e2a94'
down_revision: str | None = '9371cc506827'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_entry_source_key', 'entry', ['source_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_entry_source_key', table_name='entry')
