"""append-only triggers: the database refuses UPDATE and DELETE on the audit trail and the reputation ledger

The ORM already refuses (kb.db.append_only); these triggers make raw SQL, other tools and bugs that
bypass the ORM fail too. PostgreSQL: one trigger function, BEFORE UPDATE OR DELETE per row and BEFORE
TRUNCATE per statement. SQLite: BEFORE UPDATE and BEFORE DELETE triggers that RAISE(ABORT).

SQLite drops a table's triggers when a batch migration recreates the table: a later migration that
batch-alters workflow_event or reputation_event must create these triggers again
(``create_triggers``). tests/workflow/test_append_only.py fails when they are missing.

Revision ID: 5e1f0c2a9b7d
Revises: 334829c0a7bc
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '5e1f0c2a9b7d'
down_revision: str | None = '334829c0a7bc'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("workflow_event", "reputation_event")
FUNCTION = "kb_refuse_change_to_append_only_table"


def create_triggers(tables=TABLES) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: its rows are never changed or deleted', TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$""")
        for table in tables:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
        return
    for table in tables:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: its rows are never changed or deleted'); "
                       f"END")


def drop_triggers(tables=TABLES) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
        return
    for table in tables:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade() -> None:
    create_triggers()


def downgrade() -> None:
    drop_triggers()
