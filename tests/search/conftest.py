"""Fixtures for the search contract: every test runs on the embedded backend and on a real
Meilisearch server.

The Meilisearch binary comes from ``scripts/install-meilisearch.sh`` (``.cache/meilisearch/``) or
``$MEILISEARCH_BIN``. One server per test session (per xdist worker) on a free port, with a random
master key, in a temporary directory; a fresh index per test. Without the binary the Meilisearch
tests are skipped, unless ``REQUIRE_MEILISEARCH=1`` (CI), which makes them fail instead.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT

INSTALL_HINT = "run scripts/install-meilisearch.sh (or set MEILISEARCH_BIN)"
# Meilisearch sizes its indexing buffers from --max-indexing-memory (default: 2/3 of the RAM);
# on small VMs allocating them makes every tiny batch take seconds. Tests index a few documents.
MAX_INDEXING_MEMORY = "64MiB"


@dataclass(frozen=True)
class MeiliServer:
    url: str
    key: str
    log: Path


def meilisearch_binary() -> Path:
    return Path(os.environ.get("MEILISEARCH_BIN") or ROOT / ".cache" / "meilisearch" / "meilisearch")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"meilisearch exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"meilisearch did not become healthy in {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def meili_server(tmp_path_factory):
    binary = meilisearch_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        message = f"Meilisearch binary not found at {binary}: {INSTALL_HINT}"
        if os.environ.get("REQUIRE_MEILISEARCH") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("meilisearch")
    port = _free_port()
    key = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}"
    log = workdir / "meilisearch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(binary),
                "--db-path", str(workdir / "data.ms"),
                "--dump-dir", str(workdir / "dumps"),
                "--snapshot-dir", str(workdir / "snapshots"),
                "--http-addr", f"127.0.0.1:{port}",
                "--master-key", key,
                "--no-analytics",
                "--env", "development",
                "--max-indexing-memory", MAX_INDEXING_MEMORY,
            ],  # fmt: skip
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    try:
        _wait_healthy(url, proc, log)
        yield MeiliServer(url=url, key=key, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def make_meili_backend(server: MeiliServer, **kwargs):
    from search.meili import MeiliBackend

    return MeiliBackend(server.url, server.key, index_name=f"kb_test_{uuid.uuid4().hex[:12]}", **kwargs)


def _drop_meili_indexes(backend) -> None:
    for uid in (backend.index_name, f"{backend.index_name}_tmp"):
        try:
            backend._client.delete_index(uid)
        except Exception:  # best effort: the server may already be gone
            pass


@pytest.fixture(params=["embedded", "meilisearch"])
def backend(request, tmp_path):
    """A fresh, empty backend of each kind."""
    if request.param == "embedded":
        from search.embedded import EmbeddedBackend

        instance = EmbeddedBackend(tmp_path / "search", semantic=True)
        yield instance
        instance.close()
    else:
        server = request.getfixturevalue("meili_server")
        instance = make_meili_backend(server, semantic=True)
        yield instance
        _drop_meili_indexes(instance)


@pytest.fixture
def meili_backend(meili_server):
    instance = make_meili_backend(meili_server)
    yield instance
    _drop_meili_indexes(instance)
