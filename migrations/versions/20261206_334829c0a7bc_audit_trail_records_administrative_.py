"""audit trail records administrative changes (events without an entry, naming their target)

Revision ID: 334829c0a7bc
Revises: d4d47b754a93
Create Date: 2026-12-06 02:53:42.530437
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '334829c0a7bc'
down_revision: str | None = 'd4d47b754a93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workflow_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(length=200), server_default='', nullable=False))
        batch_op.alter_column('entry_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade() -> None:
    # Administrative events have no entry; they cannot stay in the older table.
    op.execute("DELETE FROM workflow_event WHERE entry_id IS NULL")
    with op.batch_alter_table('workflow_event', schema=None) as batch_op:
        batch_op.alter_column('entry_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('target')

