"""content

Revision ID: 9972fb7dbf24
Revises: 7694430b3030
Create Date: 2026-11-25 18:19:46.193670
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '9972fb7dbf24'
down_revision: str | None = '7694430b3030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag')),
    sa.UniqueConstraint('name', name=op.f('uq_tag_name'))
    )
    op.create_table('entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('latest_revision_id', sa.Integer(), nullable=True),
    sa.Column('certified_revision_id', sa.Integer(), nullable=True),
    sa.Column('accepted_answer_id', sa.Integer(), nullable=True),
    sa.Column('promoted_from_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('activity_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_entry_author_id_user_account')),
    sa.ForeignKeyConstraint(['parent_id'], ['entry.id'], name=op.f('fk_entry_parent_id_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry'))
    )
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_entry_kind_activity', ['kind', 'activity_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_entry_parent_id'), ['parent_id'], unique=False)

    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('uploader_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_attachment_entry_id_entry'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['uploader_id'], ['user_account.id'], name=op.f('fk_attachment_uploader_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment'))
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_uploader_id'), ['uploader_id'], unique=False)

    op.create_table('revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_revision_author_id_user_account')),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_revision_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['revision.id'], name=op.f('fk_revision_parent_id_revision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision')),
    sa.UniqueConstraint('entry_id', 'number', name='uq_revision_entry_number')
    )
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revision_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revision_state'), ['state'], unique=False)

    op.create_table('editor_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('base_revision_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tags', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['base_revision_id'], ['revision.id'], name=op.f('fk_editor_draft_base_revision_id_revision'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_editor_draft_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['entry.id'], name=op.f('fk_editor_draft_parent_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_editor_draft_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editor_draft'))
    )
    with op.batch_alter_table('editor_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editor_draft_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_editor_draft_user_id'), ['user_id'], unique=False)

    op.create_table('revision_tag',
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_revision_tag_revision_id_revision'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_revision_tag_tag_id_tag')),
    sa.PrimaryKeyConstraint('revision_id', 'tag_id', name=op.f('pk_revision_tag'))
    )
    with op.batch_alter_table('revision_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_tag_tag_id'), ['tag_id'], unique=False)

    # Entry <-> revision references form a cycle, so these keys are added once both tables exist.
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_entry_accepted_answer_id_entry'), 'entry', ['accepted_answer_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_entry_certified_revision_id_revision'), 'revision', ['certified_revision_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_entry_latest_revision_id_revision'), 'revision', ['latest_revision_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_entry_promoted_from_id_entry'), 'entry', ['promoted_from_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_entry_accepted_answer_id_entry'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_entry_certified_revision_id_revision'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_entry_latest_revision_id_revision'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_entry_promoted_from_id_entry'), type_='foreignkey')
    with op.batch_alter_table('revision_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_tag_tag_id'))

    op.drop_table('revision_tag')
    with op.batch_alter_table('editor_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editor_draft_user_id'))
        batch_op.drop_index(batch_op.f('ix_editor_draft_entry_id'))

    op.drop_table('editor_draft')
    with op.batch_alter_table('revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_state'))
        batch_op.drop_index(batch_op.f('ix_revision_entry_id'))
        batch_op.drop_index(batch_op.f('ix_revision_author_id'))

    op.drop_table('revision')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_uploader_id'))
        batch_op.drop_index(batch_op.f('ix_attachment_sha256'))
        batch_op.drop_index(batch_op.f('ix_attachment_entry_id'))

    op.drop_table('attachment')
    with op.batch_alter_table('entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entry_parent_id'))
        batch_op.drop_index('ix_entry_kind_activity')
        batch_op.drop_index(batch_op.f('ix_entry_author_id'))

    op.drop_table('entry')
    op.drop_table('tag')
