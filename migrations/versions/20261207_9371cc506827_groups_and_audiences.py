"""user_group, group_member, entry_audience; entry.limited_to_groups, entry.public: audiences

Groups of people (managed by administrators, or from the identity provider's claims: the
``source`` of a membership), entries limited to groups (``kb.content.access``), and the
customer-facing flag read by ``kb publish``.

Revision ID: 9371cc506827
Revises: c9db79aff0e7
Create Date: 2026-12-07 01:24:10.980649
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '9371cc506827'
down_revision: str | None = 'c9db79aff0e7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_key')
    )
    op.create_table('group_member',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['user_group.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_member_user_id'), ['user_id'], unique=False)

    op.create_table('entry_audience',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['user_group.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'group_id')
    )
    with op.batch_alter_table('entry_audience', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_audience_group_id'), ['group_id'], unique=False)

    # Plain columns, no batch table copy: on SQLite a copy drops and recreates ``entry`` under the
    # append-only rows that reference it (as in a3d9f2c7e1b5).
    op.add_column('entry', sa.Column('limited_to_groups', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('entry', sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    op.drop_column('entry', 'public')  # SQLite 3.35+ drops a column in place
    op.drop_column('entry', 'limited_to_groups')

    with op.batch_alter_table('entry_audience', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entry_audience_group_id'))

    op.drop_table('entry_audience')
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_member_user_id'))

    op.drop_table('group_member')
    op.drop_table('user_group')
