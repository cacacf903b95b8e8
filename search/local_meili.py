"""A Meilisearch server on this machine, from the pinned binary (``scripts/install-meilisearch.sh``
puts it in ``.cache/meilisearch/``, checked by sha256; ``$MEILISEARCH_BIN`` names another): what the
tests, their outage drills and ``make bench`` start. Production runs Meilisearch as a service of its
own (docs/deployment.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_HINT = "run scripts/install-meilisearch.sh (or set MEILISEARCH_BIN)"


def binary() -> Path:
    return Path(os.environ.get("MEILISEARCH_BIN") or ROOT / ".cache" / "meilisearch" / "meilisearch")


def installed() -> bool:
    path = binary()
    return path.is_file() and os.access(path, os.X_OK)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(work: Path, *, port: int, key: str, max_indexing_memory: str, timeout: float = 90.0) -> subprocess.Popen:
    """Start a server on ``127.0.0.1:port`` with its data in ``work`` (kept: a restart finds it), its
    output appended to ``work/meilisearch.log``; returns once it answers /health.

    ``max_indexing_memory`` bounds its indexing buffers: by default Meilisearch sizes them from the
    machine's RAM, and on small machines allocating them makes every small batch take seconds."""
    if not installed():
        raise RuntimeError(f"Meilisearch binary not found at {binary()}: {INSTALL_HINT}")
    work.mkdir(parents=True, exist_ok=True)
    log = work / "meilisearch.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(binary()), "--db-path", str(work / "data.ms"), "--dump-dir", str(work / "dumps"),
             "--snapshot-dir", str(work / "snapshots"), "--http-addr", f"127.0.0.1:{port}",
             f"--master-key={key}",  # one argument: a random key may start with "-"
             "--no-analytics", "--env", "development", "--max-indexing-memory", max_indexing_memory],
            stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, log, timeout)
    except BaseException:
        stop(proc)
        raise
    return proc


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Wait until ``url`` answers 200 (a server's health address), failing with the end of its log
    when the process exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate, and kill when it does not stop within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
