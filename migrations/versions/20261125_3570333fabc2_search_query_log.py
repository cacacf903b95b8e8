"""search query log

Revision ID: 3570333fabc2
Revises: 34cadf124bb5
Create Date: 2026-11-25 20:21:39.862607
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '3570333fabc2'
down_revision: str | None = '34cadf124bb5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('search_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('normalised', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('result_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_search_log_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_log'))
    )
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_log_normalised'), ['normalised'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_log_user_id'), ['user_id'], unique=False)

    op.create_table('search_click',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['search_id'], ['search_log.id'], name=op.f('fk_search_click_search_id_search_log'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_click'))
    )
    with op.batch_alter_table('search_click', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_click_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_click_search_id'), ['search_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('search_click', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_click_search_id'))
        batch_op.drop_index(batch_op.f('ix_search_click_entry_id'))

    op.drop_table('search_click')
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_search_log_normalised'))
        batch_op.drop_index(batch_op.f('ix_search_log_created_at'))

    op.drop_table('search_log')
