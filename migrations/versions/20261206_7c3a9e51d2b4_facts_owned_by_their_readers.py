"""cross-package facts: workflow's reviewer_score and search's search_entry_facts

No package reads another package's tables by name. Workflow qualifies reviewers by expertise
scores from its own ``reviewer_score`` (expertise fills it when it recomputes a score); search
ranks by the facts in its own ``search_entry_facts`` (the events of workflow and expertise carry
them). Both are filled here from the tables they copy: a migration may read any table.

Revision ID: 7c3a9e51d2b4
Revises: b1d5e7a0c3f2
Create Date: 2026-12-06 06:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7c3a9e51d2b4'
down_revision: str | None = 'b1d5e7a0c3f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this migration knows them (the models may change later; this file may not).
expertise_score = sa.table('expertise_score', sa.column('user_id', sa.Integer), sa.column('tag_id', sa.Integer),
                           sa.column('score', sa.Float))
certification = sa.table('certification', sa.column('entry_id', sa.Integer), sa.column('status', sa.String))
entry_rating = sa.table('entry_rating', sa.column('entry_id', sa.Integer), sa.column('wilson', sa.Float),
                        sa.column('reuse_count', sa.Integer))
entry = sa.table('entry', sa.column('id', sa.Integer))


def upgrade() -> None:
    reviewer_score = op.create_table('reviewer_score',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_reviewer_score_tag_id_tag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_reviewer_score_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'tag_id', name=op.f('pk_reviewer_score'))
    )
    with op.batch_alter_table('reviewer_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviewer_score_tag_id'), ['tag_id'], unique=False)

    facts = op.create_table('search_entry_facts',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('needs_reverification', sa.Boolean(), nullable=False),
    sa.Column('helpful_score', sa.Float(), nullable=False),
    sa.Column('reuse_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_search_entry_facts_entry_id_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_search_entry_facts'))
    )

    op.execute(reviewer_score.insert().from_select(
        ['user_id', 'tag_id', 'score'],
        sa.select(expertise_score.c.user_id, expertise_score.c.tag_id, expertise_score.c.score)))
    # One row per entry with a certification or a rating summary; the others keep the defaults.
    stale = sa.case((certification.c.status == 'needs_reverification', sa.true()), else_=sa.false())
    op.execute(facts.insert().from_select(
        ['entry_id', 'needs_reverification', 'helpful_score', 'reuse_count'],
        sa.select(entry.c.id, stale, sa.func.coalesce(entry_rating.c.wilson, 0.0),
                  sa.func.coalesce(entry_rating.c.reuse_count, 0))
        .select_from(entry.outerjoin(certification, certification.c.entry_id == entry.c.id)
                     .outerjoin(entry_rating, entry_rating.c.entry_id == entry.c.id))
        .where(sa.or_(certification.c.entry_id.is_not(None), entry_rating.c.entry_id.is_not(None)))))


def downgrade() -> None:
    op.drop_table('search_entry_facts')
    with op.batch_alter_table('reviewer_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviewer_score_tag_id'))

    op.drop_table('reviewer_score')
