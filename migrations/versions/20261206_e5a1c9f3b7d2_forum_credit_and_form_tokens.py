"""forum: co-author of an entry, one article per answer, one-time form tokens

``entry.co_author_id``: a second person with an author's rights. An article turned from a forum
answer now has the answer's author as its author and whoever turned it into an article as co-author;
existing promoted articles are changed to match (the answer's author becomes the author, the
promoter co-author). An answer is turned into an article once (unique ``promoted_from_id``); where
the double-post bug made several, the oldest keeps the link and the others become plain articles.
``form_submission`` records used one-time form tokens.

Revision ID: e5a1c9f3b7d2
Revises: e6b2f4a81c37
Create Date: 2026-12-06 18:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'e5a1c9f3b7d2'
down_revision: str | None = 'e6b2f4a81c37'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

entry = sa.table('entry', sa.column('id', sa.Integer), sa.column('author_id', sa.Integer),
                 sa.column('co_author_id', sa.Integer), sa.column('promoted_from_id', sa.Integer))


# SQLite changes ``entry`` with plain ALTER TABLE, not batch mode: rebuilding the table would drop
# the old copy, and with foreign keys on that deletes every row referring to it (answers,
# revisions, ...) through ON DELETE CASCADE. SQLite adds and drops a nullable column in place.
CO_AUTHOR_FK = 'fk_entry_co_author_id_user_account'


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    op.create_table('form_submission',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entry.id'], name=op.f('fk_form_submission_entry_id_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_form_submission_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_form_submission'))
    )
    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_submission_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_form_submission_user_id'), ['user_id'], unique=False)

    if _sqlite():
        op.execute(f'ALTER TABLE entry ADD COLUMN co_author_id INTEGER CONSTRAINT {CO_AUTHOR_FK} '
                   'REFERENCES user_account (id)')
    else:
        op.add_column('entry', sa.Column('co_author_id', sa.Integer(), nullable=True))
        op.create_foreign_key(CO_AUTHOR_FK, 'entry', 'user_account', ['co_author_id'], ['id'])

    connection = op.get_bind()
    answer = entry.alias('answer')
    promoted = connection.execute(
        sa.select(entry.c.id, entry.c.author_id, entry.c.promoted_from_id, answer.c.author_id.label('answer_author_id'))
        .select_from(entry.join(answer, answer.c.id == entry.c.promoted_from_id)).order_by(entry.c.id)).all()
    linked: set[int] = set()
    for article_id, promoter_id, answer_id, answer_author_id in promoted:
        if answer_id in linked:  # a duplicate made by the double-post bug: a plain article now
            connection.execute(entry.update().where(entry.c.id == article_id).values(promoted_from_id=None))
            continue
        linked.add(answer_id)
        if promoter_id != answer_author_id:
            connection.execute(entry.update().where(entry.c.id == article_id)
                               .values(author_id=answer_author_id, co_author_id=promoter_id))

    op.create_index('uq_entry_promoted_from_id', 'entry', ['promoted_from_id'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_entry_promoted_from_id', table_name='entry')
    if _sqlite():
        op.execute('ALTER TABLE entry DROP COLUMN co_author_id')
    else:
        op.drop_constraint(CO_AUTHOR_FK, 'entry', type_='foreignkey')
        op.drop_column('entry', 'co_author_id')

    with op.batch_alter_table('form_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_submission_user_id'))
        batch_op.drop_index(batch_op.f('ix_form_submission_created_at'))

    op.drop_table('form_submission')
