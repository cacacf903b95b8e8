"""Is the configured search backend reachable? Used by /healthz."""

from __future__ import annotations

import os

from kb.settings import Settings


def search_health(settings: Settings) -> dict:
    if settings.search_backend == "meilisearch":
        import meilisearch

        try:
            client = meilisearch.Client(settings.search_url or "http://127.0.0.1:7700", settings.search_key, timeout=2)
            status = client.health().get("status", "unknown")
            return {"backend": "meilisearch", "status": "ok" if status == "available" else status}
        except Exception as exc:  # any transport or server error means "down" here
            return {"backend": "meilisearch", "status": "down", "error": type(exc).__name__}
    index_dir = settings.data_dir / "search"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {"backend": "embedded", "status": "down", "error": exc.strerror}
    writable = os.access(index_dir, os.W_OK)
    return {"backend": "embedded", "status": "ok" if writable else "down"}
