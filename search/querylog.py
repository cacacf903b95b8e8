"""The query log: every search (normalised query, user, result count) and every click on a result.

Search as you type sends a request per pause; a search that extends the same user's previous one
within a few seconds ("ref", "refund", "refund policy") replaces it, so the log holds what people
finished typing, not every keystroke.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from kb.clock import utcnow
from kb.content.models import Entry, EntryKind
from search.models import SearchClick, SearchLog

REFINE_WINDOW = timedelta(seconds=10)
MIN_PEOPLE = 2  # a search is suggested to others once this many people made it
_WORDS = re.compile(r"\w+")


def normalise(query: str) -> str:
    return " ".join(_WORDS.findall(query.lower()))[:500]


def log_search(*, session: Session, user_id: int | None, query: str, result_count: int,
               key: str | None = None, at: datetime | None = None) -> SearchLog | None:
    """Record a search made ``at`` (now by default) under ``key``, the handle its result links carry;
    returns the row (None for an empty query, which is browsing, not searching)."""
    normalised = normalise(query)
    if not normalised:
        return None
    now = at or utcnow()
    clicked = select(SearchClick.id).where(SearchClick.search_id == SearchLog.id).exists()
    found = session.exec(
        select(SearchLog, clicked).where(SearchLog.user_id == user_id, SearchLog.created_at >= now - REFINE_WINDOW)
        .order_by(SearchLog.id.desc()).limit(1)
    ).first()
    previous, has_clicks = found if found is not None else (None, False)
    refines = previous is not None and (normalised.startswith(previous.normalised)
                                        or previous.normalised.startswith(normalised))
    if refines and not has_clicks:
        previous.query, previous.normalised = query[:500], normalised
        previous.result_count, previous.created_at = result_count, now
        previous.key = key or previous.key  # the links now shown are the refined search's
        session.flush()
        return previous
    row = SearchLog(user_id=user_id, query=query[:500], normalised=normalised, result_count=result_count,
                    created_at=now, key=key)
    session.add(row)
    session.flush()
    return row


def log_click(*, session: Session, user_id: int, search_id: int, entry_id: int, rank: int,
              at: datetime | None = None) -> SearchClick | None:
    """Record that a result was opened; ignores searches that are not this user's."""
    search = session.get(SearchLog, search_id)
    if search is None or search.user_id != user_id:
        return None
    click = SearchClick(search_id=search_id, entry_id=entry_id, rank=max(1, rank), created_at=at or utcnow())
    session.add(click)
    session.flush()
    return click


def suggestions(*, session: Session, query: str, limit: int = 5, days: int = 90) -> list[str]:
    """What to try when a search finds nothing: recent searches that found answers people
    opened, sharing a word with ``query`` (the most frequent first); the most frequent such
    searches when none shares a word. Only searches made by several people are suggested: a
    pasted customer sentence (with a name, an order number) stays with the agent who typed it."""
    words = set(normalise(query).split())
    since = utcnow() - timedelta(days=days)
    opened = (select(SearchLog.normalised, func.count(SearchLog.id).label("n"))
              .join(SearchClick, SearchClick.search_id == SearchLog.id)
              # Only searches that led to what agents may see: a draft's words never become a hint.
              .join(Entry, Entry.id == SearchClick.entry_id)
              .where(SearchLog.created_at >= since, SearchLog.result_count > 0,
                     (Entry.certified_revision_id.is_not(None)) | (Entry.kind == EntryKind.question.value))
              .group_by(SearchLog.normalised)
              .having(func.count(func.distinct(SearchLog.user_id)) >= MIN_PEOPLE)
              .order_by(func.count(SearchLog.id).desc(), SearchLog.normalised)
              .limit(200))
    asked = normalise(query)
    candidates = [q for q, _ in session.exec(opened) if q != asked]
    related = [q for q in candidates if words & set(q.split())]
    return (related or candidates)[:limit]
