"""Backup and restore of the database and the attachments (``kb backup PATH``, ``kb restore PATH``).

A backup is a folder:

- ``database.sqlite3`` (SQLite: a copy made with SQLite's online backup API, consistent while kb
  keeps serving) or ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom``, one consistent
  snapshot, restored with ``pg_restore``);
- ``attachments/``: every uploaded file (content-addressed, never changed once written, so files
  copied after the database snapshot are a superset of what it references);
- ``manifest.json``: the kb schema version (Alembic revision), the database kind, the row count of
  every table, and the size and sha256 of every file, checked before anything is restored.

Restore goes into an empty data directory and an empty database only; it never merges. The search
index is not part of a backup: the command line rebuilds it from the restored database.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import SQLModel

from kb.clock import utcnow
from kb.events import require_bootstrap
from kb.migrate import alembic_config, current_revision, head_revision, upgrade

FORMAT = "kb-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
ATTACHMENTS = "attachments"
CHUNK = 1024 * 1024

Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says what to do."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    schema: str
    database: str
    files: int
    bytes: int
    counts: dict[str, int]


def counted_tables() -> list[str]:
    """Every table of every package, counted in the manifest and compared by ``kb restore`` after
    loading. Read from the models (the composition root has loaded every package's), so a new table
    is counted without anyone listing it."""
    require_bootstrap("kb backup and kb restore")
    return sorted(SQLModel.metadata.tables)


# --- backup ------------------------------------------------------------------------------------


def create_backup(*, engine: Engine, data_dir: Path, path: Path, progress: Progress | None = None) -> BackupReport:
    """Write a backup of the database behind ``engine`` and the attachments under ``data_dir`` to the
    folder ``path`` (created; it must be empty)."""
    say = progress or (lambda _message: None)
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} is not an empty folder; give a new or empty folder for the backup.")
    schema = current_revision(engine)
    if schema is None:
        raise BackupError("The database has no kb schema; there is nothing to back up (run `kb init` first?).")
    path.mkdir(parents=True, exist_ok=True)
    kind = engine.dialect.name
    say("Copying the database")
    if kind == "sqlite":
        database_file = path / SQLITE_FILE
        _sqlite_copy(Path(engine.url.database), database_file)
        counts = _counts_sqlite(database_file)
    elif kind == "postgresql":
        database_file = path / PG_FILE
        counts = _pg_dump(engine, database_file)
    else:
        raise BackupError(f"kb cannot back up a {kind} database; use SQLite or PostgreSQL.")
    say("Copying attachments")
    _copy_attachments(Path(data_dir) / ATTACHMENTS, path / ATTACHMENTS)
    say("Writing the manifest")
    files = {str(p.relative_to(path)): {"size": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(path.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": utcnow().isoformat(),
                "schema": schema, "database": kind, "database_file": database_file.name, "counts": counts,
                "files": files}
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return BackupReport(path=path, schema=schema, database=kind, files=len(files),
                        bytes=sum(f["size"] for f in files.values()), counts=counts)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections keep reading and writing."""
    if not source.is_file():
        raise BackupError(f"There is no database at {source}; check KB_DATA_DIR or KB_DATABASE_URL.")
    src = sqlite3.connect(source)  # read only by the backup; a read-only open fails on a WAL file without -shm
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()


def _counts_sqlite(database_file: Path) -> dict[str, int]:
    conn = sqlite3.connect(database_file)
    try:
        # A database at an older schema lacks the tables of newer migrations: count those it has.
        present = set(_table_names(conn))
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in counted_tables()
                if t in present}
    finally:
        conn.close()


def _counts(conn: Connection, tables: list[str]) -> dict[str, int]:
    return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def _libpq(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore from the SQLAlchemy URL (the password in the
    environment, never on the command line)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    args = ["--dbname", url.database or ""]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _pg_tool(name: str, engine: Engine) -> str:
    """The path of pg_dump or pg_restore, refused when older than the server (it could not read it)."""
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed. Install the PostgreSQL client tools of the server's "
                          f"version (e.g. apt-get install postgresql-client) and try again.")
    output = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", output)
    tool_major = int(match.group(1)) if match else 0
    with engine.connect() as conn:
        server_major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if tool_major < server_major:
        raise BackupError(f"{name} is version {tool_major}, older than the PostgreSQL server ({server_major}); "
                          f"install the client tools of version {server_major} or newer.")
    return tool


def _pg_dump(engine: Engine, target: Path) -> dict[str, int]:
    """pg_dump of one snapshot, exported by a transaction that also counts the rows: the manifest's
    counts are exactly what the dump holds, however busy the server is."""
    tool = _pg_tool("pg_dump", engine)
    args, env = _libpq(engine)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        present = set(inspect(conn).get_table_names())
        counted = _counts(conn, [t for t in counted_tables() if t in present])
        result = subprocess.run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                                 "--file", str(target), *args], capture_output=True, text=True, env=env)
        conn.rollback()
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    return counted


def _copy_attachments(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return
    for file in sorted(source.rglob("*")):
        if file.is_file() and not file.name.startswith(".upload-"):  # unfinished uploads have no row
            destination = target / file.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, destination)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- restore -----------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict:
    """The backup's manifest, after checking that every file is there with its size and checksum."""
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise BackupError(f"{path} is not a kb backup: it has no {MANIFEST}.")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{manifest_file} is damaged (not JSON); use another backup.") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} is not a kb backup this version of kb can read.")
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            raise BackupError(f"The backup is incomplete: {name} is missing. Use another backup.")
        if file.stat().st_size != expected["size"] or _sha256(file) != expected["sha256"]:
            raise BackupError(f"The backup is damaged: {name} does not match its checksum. Use another backup.")
    listed = set(manifest["files"])
    extra = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()
             and str(p.relative_to(path)) not in listed and p.name != MANIFEST]
    if extra:
        raise BackupError(f"The backup has files its manifest does not list ({', '.join(sorted(extra)[:3])}); "
                          "it was changed after it was made. Use another backup.")
    return manifest


def _known_schema(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


def check_empty_target(*, engine: Engine, data_dir: Path) -> None:
    """Restore never merges: the database must have no tables and the data directory no attachments."""
    data_dir = Path(data_dir)
    attachments = data_dir / ATTACHMENTS
    if attachments.is_dir() and any(p.is_file() for p in attachments.rglob("*")):
        raise BackupError(f"{attachments} is not empty. Restore into a new, empty data directory "
                          "(KB_DATA_DIR), or move the current one away first.")
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database)
        if database.exists() and database.stat().st_size > 0 and _sqlite_table_names(database):
            raise BackupError(f"The database {database} already has tables. Restore into a new, empty data "
                              "directory (KB_DATA_DIR), or move the current database away first.")
        return
    tables = inspect(engine).get_table_names()
    if tables:
        raise BackupError(f"The database {engine.url.database} is not empty ({len(tables)} tables). Restore into a "
                          f"new, empty database (createdb) and point KB_DATABASE_URL at it; do not run `kb init` "
                          f"before restoring.")


def _table_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _sqlite_table_names(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        return _table_names(conn)
    finally:
        conn.close()


def restore_backup(*, engine: Engine, data_dir: Path, path: Path, progress: Progress | None = None) -> BackupReport:
    """Load the backup at ``path`` into the (empty) database behind ``engine`` and ``data_dir``, then
    bring the schema up to this kb's migrations. The caller rebuilds the search index."""
    say = progress or (lambda _message: None)
    path = Path(path)
    say("Checking the backup")
    manifest = read_manifest(path)
    if not _known_schema(manifest["schema"]):
        raise BackupError(f"The backup was made by a newer kb (schema {manifest['schema']}); upgrade kb first.")
    kind = engine.dialect.name
    if manifest["database"] != kind:
        raise BackupError(f"The backup holds a {manifest['database']} database but KB_DATABASE_URL points to "
                          f"{kind}; restore it into the same kind of database.")
    check_empty_target(engine=engine, data_dir=data_dir)
    say("Restoring the database")
    if kind == "sqlite":
        engine.dispose()
        database = Path(engine.url.database)
        database.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):  # an empty file left by a connection attempt
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        _sqlite_copy(path / manifest["database_file"], database)
    else:
        tool = _pg_tool("pg_restore", engine)
        args, env = _libpq(engine)
        engine.dispose()
        result = subprocess.run([tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                 *args, str(path / manifest["database_file"])], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed (nothing was restored): {result.stderr.strip()[:500]}")
    say("Restoring attachments")
    source = path / ATTACHMENTS
    target = Path(data_dir) / ATTACHMENTS
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    if current_revision(engine) != head_revision():
        say("Upgrading the schema")
        upgrade(engine)
    # Tables a later migration dropped are not compared; tables it added were not in the backup.
    kept = set(counted_tables())
    counted = {t: n for t, n in manifest["counts"].items() if t in kept}
    with engine.connect() as conn:
        restored = _counts(conn, sorted(counted))
    if restored != counted:
        wrong = ", ".join(f"{t}: {restored[t]:,} rows instead of {n:,}" for t, n in sorted(counted.items())
                          if restored[t] != n)
        raise BackupError(f"The restored database does not hold what the backup counted ({wrong}). Do not use it; "
                          "restore again into an empty database.")
    files = manifest["files"]
    return BackupReport(path=path, schema=manifest["schema"], database=kind, files=len(files),
                        bytes=sum(f["size"] for f in files.values()), counts=restored)
