"""The project's structural rules: import direction and schema-by-migrations-only."""

import shutil
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from kb.db import metadata
from kb.migrate import current_revision, head_revision
from tests.helpers import ROOT


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is not installed"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken" in result.stdout


def test_migrations_are_at_head(engine):
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_do_not_differ(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models differ from migrations; run `alembic revision --autogenerate`: {differences}"
