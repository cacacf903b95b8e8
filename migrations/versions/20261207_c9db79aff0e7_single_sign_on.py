"""external_identity, user_account.roles_set_by_admin_at: single sign-on with OpenID Connect

A person's account at the identity provider (issuer + subject) is linked to their kb account at their
first sign-in through it; an administrator's change of someone's roles is remembered, so that the
provider's groups no longer replace them.

Revision ID: c9db79aff0e7
Revises: b4e8d2a6c913
Create Date: 2026-12-07 01:24:32.943267
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'c9db79aff0e7'
down_revision: str | None = 'b4e8d2a6c913'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('external_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_sign_in_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_external_identity_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_identity')),
    sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_external_identity_issuer'))
    )
    with op.batch_alter_table('external_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_identity_user_id'), ['user_id'], unique=False)

    # A plain column, no batch table copy: on SQLite a copy drops and recreates ``user_account`` under
    # the append-only rows that reference it.
    op.add_column('user_account', sa.Column('roles_set_by_admin_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))



def downgrade() -> None:
    op.drop_column('user_account', 'roles_set_by_admin_at')  # SQLite 3.35+ drops a column in place

    with op.batch_alter_table('external_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_identity_user_id'))

    op.drop_table('external_identity')
