"""The configured search backend, one instance per process and configuration.

The embedded backend holds the index writer (tantivy allows one per index directory), so a
process must keep using the same instance: ``backend_for`` caches it.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from kb.settings import Settings
from search.backend import SearchBackend

DEFAULT_MEILISEARCH_URL = "http://127.0.0.1:7700"

_lock = threading.Lock()
_backends: dict[tuple, SearchBackend] = {}


def _key(settings: Settings) -> tuple:
    if settings.search_backend == "meilisearch":
        return ("meilisearch", settings.search_url or DEFAULT_MEILISEARCH_URL, settings.search_key, settings.semantic)
    return ("embedded", _resolved(settings.data_dir / "search"), settings.semantic)


@lru_cache(maxsize=64)
def _resolved(path: Path) -> str:
    """The folder's real path (asked on every search: resolving walks the file system)."""
    return str(path.resolve())


def backend_for(settings: Settings) -> SearchBackend:
    key = _key(settings)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            if key[0] == "meilisearch":
                from search.meili import MeiliBackend

                backend = MeiliBackend(key[1], key[2], semantic=settings.semantic)
            else:
                from search.embedded import EmbeddedBackend

                backend = EmbeddedBackend(settings.data_dir / "search", semantic=settings.semantic)
            _backends[key] = backend
        return backend


def reset_backends() -> None:
    """Forget the cached backends, releasing embedded index writers (tests, shutdown)."""
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
