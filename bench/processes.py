"""The processes a serve benchmark run starts and measures: ``kb`` commands, ``kb serve``,
``kb indexer``, a Meilisearch server, a PostgreSQL database; memory and disk use."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from search import local_meili
from search.local_meili import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MEILI_INDEXING_MEMORY = "512MiB"  # bounded, as docs/deployment.md recommends


def kb_command(*args: str) -> list[str]:
    """``kb ARGS`` from this checkout, whatever the ``kb`` script of the venv points at."""
    return [sys.executable, "-m", "cli.main", *args]


def run_kb(env: dict, cwd: Path, *args: str, echo: bool = True) -> tuple[float, str]:
    """Run a ``kb`` command to its end; its output is shown (progress) and returned."""
    started = time.perf_counter()
    proc = subprocess.Popen(kb_command(*args), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if echo:
            print(f"    {line.rstrip()}", flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"kb {' '.join(args)} failed ({proc.returncode}):\n{''.join(lines)[-3000:]}")
    return time.perf_counter() - started, "".join(lines)


def run_python(env: dict, cwd: Path, module: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", module, *args], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn and kb indexer stop cleanly on Ctrl-C
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def serving(env: dict, cwd: Path, *, workers: int, indexer: bool):
    """``kb serve --workers N`` on a free loopback port (and ``kb indexer`` beside it); yields
    (port, server process, indexer process or None)."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("w") as out:
        server = subprocess.Popen(kb_command("serve", "--port", str(port), "--workers", str(workers)), env=env,
                                  cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    helper = None
    try:
        if indexer:
            with (cwd / "indexer.log").open("a") as out:
                helper = subprocess.Popen(kb_command("indexer", "--interval", "0.2"), env=env, cwd=cwd, stdout=out,
                                          stderr=subprocess.STDOUT)
        wait_healthy(f"http://127.0.0.1:{port}/healthz", server, log)
        yield port, server, helper
    finally:
        stop(server)
        if helper is not None:
            stop(helper)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def rss_mb(pid: int) -> dict:
    """Resident memory (VmRSS) of a process and all its descendants (uvicorn's workers), in MB."""
    tree = _children()
    todo, per = [pid], {}
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        per[current] = round(kb / 1024, 1)
    return {"total_mb": round(sum(per.values()), 1), "processes_mb": sorted(per.values(), reverse=True)}


def du_mb(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 1e6, 1)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


@contextmanager
def meilisearch(work: Path):
    """A Meilisearch server on a free port, its data in ``work``; yields (url, key, data path, process)."""
    port, key = free_port(), secrets.token_urlsafe(24)
    proc = local_meili.start(work, port=port, key=key, max_indexing_memory=MEILI_INDEXING_MEMORY, timeout=120)
    try:
        yield f"http://127.0.0.1:{port}", key, work / "data.ms", proc
    finally:
        local_meili.stop(proc, timeout=20)
        shutil.rmtree(work / "data.ms", ignore_errors=True)


@contextmanager
def postgres_database():
    """A fresh, empty database on the PostgreSQL server (dropped afterwards); yields its URL."""
    import psycopg

    name = f"kb_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_size_mb(url: str) -> float:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        size = admin.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]
    return round(size / 1e6, 1)
