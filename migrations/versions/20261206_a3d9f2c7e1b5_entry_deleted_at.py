"""entry.deleted_at: an author's draft article deleted (soft delete, kept for the audit trail)

A deleted draft is invisible to everyone in every channel (``kb.content.access``); its row stays so
that the append-only audit trail, which references entries, keeps its history.

Revision ID: a3d9f2c7e1b5
Revises: e2a7c91f4b06
Create Date: 2026-12-06 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'a3d9f2c7e1b5'
down_revision: str | None = 'e2a7c91f4b06'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain nullable column: no batch table copy, which on SQLite would drop and recreate ``entry``
# under the rows that reference it.
def upgrade() -> None:
    op.add_column('entry', sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('entry', 'deleted_at')  # SQLite 3.35+ drops a column in place
