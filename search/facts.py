"""Facts about an entry that search ranks by but other packages own, kept as their events carry them.

``search`` may import only ``kb``: it cannot read workflow's certification or expertise's rating
summary, and reading their tables by name would break silently when they change. Instead the
service that changes such a fact puts the new value in the data of the event it publishes;
``record`` (run by the outbox subscriber, in the publisher's transaction) keeps it in
``SearchEntryFacts``, and building documents (the indexer, ``kb reindex``) reads only that table.

Event data keys, each optional (an event without a key leaves that fact as it was):

* ``needs_reverification`` (bool): the certification ran out and waits for an expert to
  re-verify or archive it. Workflow publishes it with every change of a certification: certify
  (``revision.transition``) False, the expiry sweep True, re-verification and archiving False.
  A yes/no rather than the certification's status: the status vocabulary belongs to workflow
  (``CertificationStatus``), and a copy of one of its strings here would go stale unnoticed.
* ``helpful_score`` (float, the Wilson lower bound of the helpful votes) and ``reuse_count``
  (int, the cases it solved): expertise publishes both with every ``vote.changed`` and
  ``entry.reused``, from the rating summary it has just recounted.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.events import Event
from search.models import SearchEntryFacts

#: The event data keys this module keeps, with the type each is stored as.
FACTS = {"needs_reverification": bool, "helpful_score": float, "reuse_count": int}


def record(*, session: Session, event: Event) -> None:
    """Keep the facts ``event`` carries about its entry (nothing when it carries none)."""
    values = {key: kind(event.data[key]) for key, kind in FACTS.items() if event.data.get(key) is not None}
    if event.entry_id is None or not values:
        return
    changed = update(SearchEntryFacts).where(SearchEntryFacts.entry_id == event.entry_id).values(**values)
    if session.exec(changed).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(SearchEntryFacts(entry_id=event.entry_id, **values))
    except IntegrityError:
        # A concurrent change of another fact of the entry created the row first: update it. (An
        # entry deleted meanwhile has no row to update, and needs none.)
        session.exec(changed)


def record_all(*, session: Session, events: list[Event]) -> None:
    """``record`` for many events: existing rows updated and missing ones inserted a statement
    per set of values (the import certifies thousands of entries per transaction)."""
    latest: dict[int, dict] = {}
    for event in events:
        values = {key: kind(event.data[key]) for key, kind in FACTS.items() if event.data.get(key) is not None}
        if event.entry_id is not None and values:
            latest.setdefault(event.entry_id, {}).update(values)  # later events win, as one by one
    if not latest:
        return
    table = SearchEntryFacts.__table__
    existing = set()
    ids = list(latest)
    for start in range(0, len(ids), 500):
        existing.update(session.exec(select(SearchEntryFacts.entry_id)
                                     .where(SearchEntryFacts.entry_id.in_(ids[start:start + 500]))))
    groups: dict[tuple, list[int]] = {}
    for entry_id, values in latest.items():
        groups.setdefault(tuple(sorted(values.items())), []).append(entry_id)
    try:
        with session.begin_nested():
            for values, entry_ids in groups.items():
                present = [i for i in entry_ids if i in existing]
                for start in range(0, len(present), 500):
                    session.exec(update(table).where(table.c.entry_id.in_(present[start:start + 500]))
                                 .values(**dict(values)))
                missing = [{"entry_id": i, "needs_reverification": False, "helpful_score": 0.0, "reuse_count": 0,
                            **dict(values)} for i in entry_ids if i not in existing]
                if missing:
                    session.exec(insert(table), params=missing)
    except IntegrityError:  # a concurrent change created some rows meanwhile: one by one
        for event in events:
            record(session=session, event=event)


def of_entry(*, session: Session, entry_id: int) -> SearchEntryFacts:
    """The entry's facts; defaults (not stale, unrated) when no event carried any yet."""
    row = session.exec(select(SearchEntryFacts).where(SearchEntryFacts.entry_id == entry_id)).first()
    return row if row is not None else SearchEntryFacts(entry_id=entry_id)
