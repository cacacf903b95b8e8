"""policy: approver_cannot_certify (the approver may not also certify: author, approver and
certifier are three people)

Existing policies keep today's rule (an approver who may certify may do so).

Revision ID: e6b2f4a81c37
Revises: d68d114693b0
Create Date: 2026-12-06 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e6b2f4a81c37'
down_revision: str | None = 'd68d114693b0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workflow_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approver_cannot_certify', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('workflow_policy', schema=None) as batch_op:
        batch_op.drop_column('approver_cannot_certify')
