"""The project's structural rules: import direction, no reads of another package's tables by name,
and schema-by-migrations-only."""

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from kb.db import metadata
from kb.migrate import current_revision, head_revision
from tests.helpers import ROOT


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is not installed"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken" in result.stdout


def test_migrations_are_at_head(engine):
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_do_not_differ(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models differ from migrations; run `alembic revision --autogenerate`: {differences}"


# --- no package reads another package's tables by name ------------------------------------------
# Facts cross packages through imports in the allowed direction, events, or data the owning
# package publishes. A table named in a string is invisible to the import contracts, and a rename
# would break production instead of a test; so no package names a table it does not own. Foreign
# keys are the exception, in the import direction only: SQLAlchemy resolves them when the models
# load, and the migration check above compares them.

PACKAGES = ("kb", "workflow", "expertise", "search", "web", "cli")
# Whom each package may import (ARCHITECTURE.md): a foreign key may point only there.
MAY_IMPORT = {"kb": {"kb"}, "search": {"search", "kb"}, "workflow": {"workflow", "kb"},
              "expertise": {"expertise", "workflow", "search", "kb"}, "web": set(PACKAGES), "cli": set(PACKAGES)}
# Files that name other packages' tables, and why that is no cross-package read of facts. None
# today: the backup counts every table it finds in SQLModel.metadata instead of naming them.
EXEMPT: dict[str, str] = {}
SQL_NAMES = ("text", "exec_driver_sql", "literal_column")
SQL_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b")
SQL_TABLE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO|TABLE)\s+[\"`]?(\w+)", re.IGNORECASE)


def table_owners() -> dict[str, str]:
    """Table name -> the package whose ``models.py`` defines it (every models module is loaded)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("models.py")):
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    owners = {mapper.local_table.name: mapper.class_.__module__.split(".")[0]
              for mapper in SQLModel._sa_registry.mappers}
    assert set(owners) == set(metadata.tables), "every table is a model of some package's models.py"
    return owners


def _called(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def _strings(node: ast.AST) -> list[str]:
    """The literal text of a string or an f-string (its constant parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value for part in node.values if isinstance(part, ast.Constant)]
    return []


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr) and _strings(node.body[0].value)}


def foreign_table_names(source: str, package: str, owners: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, table, how) for each table of another package that ``source`` (a module of
    ``package``) names: in ``table()``/``Table()``, in SQL text, in a list of table names, or in a
    foreign key that points against the import direction."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[tuple[int, str, str]] = []

    def foreign(name: str) -> bool:
        return owners.get(name, package) != package

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = _called(node)
            if called in ("table", "Table") and node.args and _strings(node.args[0]):
                found += [(node.lineno, name, called + "()") for name in _strings(node.args[0])[:1] if foreign(name)]
            elif called in SQL_NAMES and node.args:
                found += [(node.lineno, name, "SQL") for text_ in _strings(node.args[0])
                          for name in SQL_TABLE.findall(text_) if foreign(name)]
            targets = [kw.value for kw in node.keywords if kw.arg == "foreign_key"]
            if called in ("ForeignKey", "ForeignKeyConstraint"):
                targets += [arg for arg in node.args if _strings(arg)]
                targets += [item for arg in node.args if isinstance(arg, ast.List | ast.Tuple) for item in arg.elts]
            for target in targets:
                for text_ in _strings(target):
                    name = text_.split(".")[0]
                    if name in owners and owners[name] not in MAY_IMPORT[package]:
                        found.append((node.lineno, name, "foreign key against the import direction"))
        elif isinstance(node, ast.List | ast.Tuple | ast.Set) and len(node.elts) > 1:
            names = [s for item in node.elts for s in _strings(item)]
            if len(names) == len(node.elts) and all(name in owners for name in names):
                found += [(node.lineno, name, "list of tables") for name in names if foreign(name)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL_STATEMENT.match(node.value):
                found += [(node.lineno, name, "SQL") for name in SQL_TABLE.findall(node.value) if foreign(name)]
    return sorted(set(found))


def test_no_package_reads_another_packages_tables_by_name():
    owners = table_owners()
    problems = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in EXEMPT:
                continue
            for line, table, how in foreign_table_names(path.read_text(encoding="utf-8"), package, owners):
                problems.append(f"{relative}:{line} names {owners[table]}'s table {table!r} ({how})")
    assert problems == [], ("read facts through the owning package (imports in the allowed direction, "
                            "events, or data it publishes), not its table names:\n" + "\n".join(problems))


def test_the_exemptions_are_still_needed():
    owners = table_owners()
    for relative in EXEMPT:
        package = relative.split("/")[0]
        assert foreign_table_names((ROOT / relative).read_text(encoding="utf-8"), package, owners), (
            f"{relative} names no other package's table any more: remove it from EXEMPT")


OWNERS = {"entry": "kb", "certification": "workflow", "expertise_score": "expertise", "entry_rating": "expertise",
          "search_outbox": "search", "user_account": "kb"}
READS = {
    "a table reference": ('_s = sa.table("expertise_score", sa.column("score", sa.Float))', "workflow"),
    "a Table": ('t = Table("certification", metadata, autoload_with=engine)', "search"),
    "SQL text": ('session.execute(text("SELECT status FROM certification WHERE entry_id = :id"))', "search"),
    "SQL in an f-string": ("session.execute(sa.text(f'SELECT wilson FROM entry_rating WHERE entry_id = {i}'))",
                           "search"),
    "raw SQL": ('conn.execute("UPDATE certification SET status = 1")', "kb"),
    "a join in SQL": ('text("SELECT 1 FROM entry e JOIN expertise_score s ON s.user_id = e.author_id")', "workflow"),
    "a list of tables": ('COUNTED = ("entry", "certification", "entry_rating")', "kb"),
    "a foreign key against the direction": ('x: int = Field(foreign_key="expertise_score.user_id")', "search"),
    "a ForeignKey against the direction": ('sa.Column("x", sa.ForeignKey("search_outbox.id"))', "workflow"),
}
NOT_READS = {
    "its own table": ('_t = sa.table("search_outbox", sa.column("id"))', "search"),
    "a foreign key in the import direction": ('x: int = Field(foreign_key="entry.id", ondelete="CASCADE")', "search"),
    "a word that is also a table name": ('raise Forbidden("certification")\nkind = "entry"', "workflow"),
    "a docstring": ('def f():\n    """SELECT status FROM certification."""', "search"),
    "SQL on no table": ('connection.execute(text("SELECT 1"))', "web"),
    "a list of words": ('KINDS = ("entry", "comment")', "workflow"),
}


@pytest.mark.parametrize(("source", "package"), READS.values(), ids=READS.keys())
def test_the_scanner_finds_reads_by_name(source, package):
    assert foreign_table_names(source, package, OWNERS)


@pytest.mark.parametrize(("source", "package"), NOT_READS.values(), ids=NOT_READS.keys())
def test_the_scanner_ignores_what_is_no_read(source, package):
    assert foreign_table_names(source, package, OWNERS) == []
