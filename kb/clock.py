"""Time in one place: timezone-aware UTC (SQLModel stores and returns UTC on every database).

``travel`` shifts the clock for the current context; the demo loader uses it to write a history
that happened over past months, and tests use it to move past expiry dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

__all__ = ["UTC", "travel", "utcnow"]

_offset: ContextVar[timedelta] = ContextVar("kb_clock_offset", default=timedelta(0))


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset.get()


@contextmanager
def travel(to: datetime) -> Iterator[None]:
    """Within the block, ``utcnow()`` starts from ``to`` (and keeps ticking)."""
    token = _offset.set(to - datetime.now(UTC))
    try:
        yield
    finally:
        _offset.reset(token)
