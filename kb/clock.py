"""Time in one place: timezone-aware UTC (SQLModel stores and returns UTC on every database)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["UTC", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)
