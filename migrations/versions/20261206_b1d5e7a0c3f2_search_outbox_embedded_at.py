"""hybrid search: search_outbox.embedded_at (the indexer's embedding pass)

Rows already indexed count as embedded: the vectors of existing content are built when the
indexer finds no vectors from the current model (it then queues every entry).

Revision ID: b1d5e7a0c3f2
Revises: 5e1f0c2a9b7d
Create Date: 2026-12-06 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b1d5e7a0c3f2'
down_revision: str | None = '5e1f0c2a9b7d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_search_outbox_embedding', ['embedded_at', 'done_at'], unique=False)
    op.execute("UPDATE search_outbox SET embedded_at = done_at WHERE done_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_search_outbox_embedding')
        batch_op.drop_column('embedded_at')
