"""Wake a worker of this process as soon as a transaction that wrote its rows commits.

The search indexer and the webhook sender each poll their table every few seconds (rows other
processes wrote); rows this process writes should not wait that long. A service marks the session
that wrote rows (``mark``); when that session commits, the signal is set, and the worker blocked in
``wait`` wakes at once. A rolled-back transaction wakes nobody.
"""

from __future__ import annotations

import threading

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession


class CommitSignal:
    def __init__(self, name: str) -> None:
        self._flag = f"kb_commit_signal:{name}"
        self._event = threading.Event()
        # One bound method object, so that SQLAlchemy's registry recognises it (install is idempotent).
        self._after_commit_listener = self._after_commit
        self._after_rollback_listener = self._after_rollback

    def mark(self, session: OrmSession) -> None:
        """``session``'s transaction wrote rows the worker should see once it commits."""
        session.info[self._flag] = True

    def install(self) -> None:
        """Listen for commits (idempotent; ``bootstrap()`` calls it through the packages' ``register``)."""
        if not sa_event.contains(OrmSession, "after_commit", self._after_commit_listener):
            sa_event.listen(OrmSession, "after_commit", self._after_commit_listener)
            sa_event.listen(OrmSession, "after_rollback", self._after_rollback_listener)

    def wait(self, timeout: float) -> bool:
        """Block until a marked transaction commits, or ``timeout`` seconds; True when woken by a commit."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken

    def notify(self) -> None:
        """Wake the worker now (a change it cannot see by a mark, e.g. in a test)."""
        self._event.set()

    def _after_commit(self, session: OrmSession) -> None:
        if session.info.pop(self._flag, False):
            self._event.set()

    def _after_rollback(self, session: OrmSession) -> None:
        session.info.pop(self._flag, None)
