"""workflow

Revision ID: 52e8249ddb7d
Revises: 9972fb7dbf24
Create Date: 2026-11-25 18:48:23.636374
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '52e8249ddb7d'
down_revision: str | None = '9972fb7dbf24'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('last_digest_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_preference_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preference'))
    )
    op.create_table('topic_expert',
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('designated_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['designated_by'], ['user_account.id'], name=op.f('fk_topic_expert_designated_by_user_account')),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_topic_expert_tag_id_tag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_topic_expert_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tag_id', 'user_id', name=op.f('pk_topic_expert'))
    )
    with op.batch_alter_table('topic_expert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_expert_user_id'), ['user_id'], unique=False)

    op.create_table('workflow_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('required_approvals', sa.Integer(), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('reminder_days', sa.Integer(), nullable=False),
    sa.Column('approval_certifies', sa.Boolean(), nullable=False),
    sa.Column('experts_only_review', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_workflow_policy_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_policy')),
    sa.UniqueConstraint('tag_id', name=op.f('uq_workflow_policy_tag_id'))
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('read_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('emailed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_notification_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user_read', ['user_id', 'read_at'], unique=False)

    op.create_table('certification',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('certified_by', sa.Integer(), nullable=False),
    sa.Column('certified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('valid_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('reminder_sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reverified_by', sa.Integer(), nullable=True),
    sa.Column('reverified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('archived_by', sa.Integer(), nullable=True),
    sa.Column('archived_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['archived_by'], ['user_account.id'], name=op.f('fk_certification_archived_by_user_account')),
    sa.ForeignKeyConstraint(['certified_by'], ['user_account.id'], name=op.f('fk_certification_certified_by_user_account')),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_certification_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reverified_by'], ['user_account.id'], name=op.f('fk_certification_reverified_by_user_account')),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_certification_revision_id_revision')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_certification'))
    )
    with op.batch_alter_table('certification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certification_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_certification_valid_until'), ['valid_until'], unique=False)

    op.create_table('flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.Column('flagger_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('resolution', sa.Text(), server_default='', nullable=False),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_flag_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flagger_id'], ['user_account.id'], name=op.f('fk_flag_flagger_id_user_account')),
    sa.ForeignKeyConstraint(['resolved_by'], ['user_account.id'], name=op.f('fk_flag_resolved_by_user_account')),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_flag_revision_id_revision'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag'))
    )
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flag_flagger_id'), ['flagger_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flag_status'), ['status'], unique=False)

    op.create_table('review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_review_reviewer_id_user_account')),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_review_revision_id_revision'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review')),
    sa.UniqueConstraint('revision_id', 'reviewer_id', name='uq_review_revision_reviewer')
    )
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_reviewer_id'), ['reviewer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_revision_id'), ['revision_id'], unique=False)

    op.create_table('workflow_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_workflow_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_workflow_event_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_workflow_event_revision_id_revision'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_event'))
    )
    with op.batch_alter_table('workflow_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workflow_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_workflow_event_entry_id'), ['entry_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('workflow_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workflow_event_entry_id'))
        batch_op.drop_index(batch_op.f('ix_workflow_event_created_at'))

    op.drop_table('workflow_event')
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_revision_id'))
        batch_op.drop_index(batch_op.f('ix_review_reviewer_id'))

    op.drop_table('review')
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_status'))
        batch_op.drop_index(batch_op.f('ix_flag_flagger_id'))
        batch_op.drop_index(batch_op.f('ix_flag_entry_id'))

    op.drop_table('flag')
    with op.batch_alter_table('certification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certification_valid_until'))
        batch_op.drop_index(batch_op.f('ix_certification_status'))

    op.drop_table('certification')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_read')

    op.drop_table('notification')
    op.drop_table('workflow_policy')
    with op.batch_alter_table('topic_expert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_expert_user_id'))

    op.drop_table('topic_expert')
    op.drop_table('notification_preference')
