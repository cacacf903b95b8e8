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
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from search import local_meili

# Tests index a few documents: small indexing buffers (see search.local_meili.start).
MAX_INDEXING_MEMORY = "64MiB"


@dataclass(frozen=True)
class MeiliServer:
    url: str
    key: str
    log: Path


def require_meilisearch() -> None:
    """Skip without the binary, or fail when REQUIRE_MEILISEARCH=1 (CI)."""
    if not local_meili.installed():
        message = f"Meilisearch binary not found at {local_meili.binary()}: {local_meili.INSTALL_HINT}"
        if os.environ.get("REQUIRE_MEILISEARCH") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def meili_server(tmp_path_factory):
    require_meilisearch()
    workdir = tmp_path_factory.mktemp("meilisearch")
    port, key = local_meili.free_port(), secrets.token_urlsafe(24)
    proc = local_meili.start(workdir, port=port, key=key, max_indexing_memory=MAX_INDEXING_MEMORY)
    try:
        yield MeiliServer(url=f"http://127.0.0.1:{port}", key=key, log=workdir / "meilisearch.log")
    finally:
        local_meili.stop(proc)


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
