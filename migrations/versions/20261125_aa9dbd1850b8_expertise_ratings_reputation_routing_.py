"""expertise ratings reputation routing synonyms

Revision ID: aa9dbd1850b8
Revises: 3570333fabc2
Create Date: 2026-11-25 20:54:26.279547
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'aa9dbd1850b8'
down_revision: str | None = '3570333fabc2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('endorsement',
    sa.Column('endorser_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['endorser_id'], ['user_account.id'], name=op.f('fk_endorsement_endorser_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_endorsement_tag_id_tag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_endorsement_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endorser_id', 'user_id', 'tag_id', name=op.f('pk_endorsement'))
    )
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endorsement_user_id'), ['user_id'], unique=False)

    op.create_table('expertise_score',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_expertise_score_tag_id_tag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_expertise_score_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'tag_id', name=op.f('pk_expertise_score'))
    )
    with op.batch_alter_table('expertise_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expertise_score_score'), ['score'], unique=False)
        batch_op.create_index(batch_op.f('ix_expertise_score_tag_id'), ['tag_id'], unique=False)

    op.create_table('search_synonym',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phrase', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('alternatives', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['user_account.id'], name=op.f('fk_search_synonym_updated_by_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_synonym')),
    sa.UniqueConstraint('phrase', name=op.f('uq_search_synonym_phrase'))
    )
    op.create_table('topic_interest',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_topic_interest_tag_id_tag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_topic_interest_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'tag_id', name=op.f('pk_topic_interest'))
    )
    op.create_table('topic_routing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=True),
    sa.Column('auto_assign', sa.Boolean(), nullable=False),
    sa.Column('notify_experts', sa.Integer(), nullable=False),
    sa.Column('escalate_after_hours', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_topic_routing_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_routing')),
    sa.UniqueConstraint('tag_id', name=op.f('uq_topic_routing_tag_id'))
    )
    op.create_table('entry_rating',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('helpful', sa.Integer(), nullable=False),
    sa.Column('not_helpful', sa.Integer(), nullable=False),
    sa.Column('wilson', sa.Float(), nullable=False),
    sa.Column('reuse_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_entry_rating_entry_id_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_entry_rating'))
    )
    op.create_table('question_route',
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['entry.id'], name=op.f('fk_question_route_question_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_question_route_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('question_id', 'user_id', name=op.f('pk_question_route'))
    )
    with op.batch_alter_table('question_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_route_created_at'), ['created_at'], unique=False)

    op.create_table('reputation_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_reputation_event_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_reputation_event_entry_id_entry'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_reputation_event_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reputation_event')),
    sa.UniqueConstraint('key', name=op.f('uq_reputation_event_key'))
    )
    with op.batch_alter_table('reputation_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reputation_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_event_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reputation_event_user_id'), ['user_id'], unique=False)

    op.create_table('vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_vote_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_vote_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote')),
    sa.UniqueConstraint('entry_id', 'user_id', name='uq_vote_entry_user')
    )
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vote_user_id'), ['user_id'], unique=False)

    op.create_table('reuse',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_reuse_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_reuse_revision_id_revision'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_reuse_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reuse'))
    )
    with op.batch_alter_table('reuse', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reuse_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reuse_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reuse_user_id'), ['user_id'], unique=False)

    op.create_table('review_assignment',
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by', sa.Integer(), nullable=True),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by'], ['user_account.id'], name=op.f('fk_review_assignment_assigned_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_review_assignment_reviewer_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_review_assignment_revision_id_revision'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('revision_id', 'reviewer_id', name=op.f('pk_review_assignment'))
    )
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_assignment_reviewer_id'), ['reviewer_id'], unique=False)

    with op.batch_alter_table('workflow_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expert_min_score', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('workflow_policy', schema=None) as batch_op:
        batch_op.drop_column('expert_min_score')

    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_assignment_reviewer_id'))

    op.drop_table('review_assignment')
    with op.batch_alter_table('reuse', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reuse_user_id'))
        batch_op.drop_index(batch_op.f('ix_reuse_entry_id'))
        batch_op.drop_index(batch_op.f('ix_reuse_created_at'))

    op.drop_table('reuse')
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_user_id'))
        batch_op.drop_index(batch_op.f('ix_vote_entry_id'))

    op.drop_table('vote')
    with op.batch_alter_table('reputation_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reputation_event_user_id'))
        batch_op.drop_index(batch_op.f('ix_reputation_event_entry_id'))
        batch_op.drop_index(batch_op.f('ix_reputation_event_created_at'))

    op.drop_table('reputation_event')
    with op.batch_alter_table('question_route', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_route_created_at'))

    op.drop_table('question_route')
    op.drop_table('entry_rating')
    op.drop_table('topic_routing')
    op.drop_table('topic_interest')
    op.drop_table('search_synonym')
    with op.batch_alter_table('expertise_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expertise_score_tag_id'))
        batch_op.drop_index(batch_op.f('ix_expertise_score_score'))

    op.drop_table('expertise_score')
    with op.batch_alter_table('endorsement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endorsement_user_id'))

    op.drop_table('endorsement')
