""""Has this been asked before?": questions and certified articles like the one being typed.

The ask form shows them as the asker types (debounced), so an answer that already exists is found
before a duplicate question is posted. The search runs as the asker: what they may not open is
never suggested.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from kb.accounts.models import User
from kb.errors import SearchUnavailable
from search.backend import Hit, SearchBackend
from search.service import search

MIN_CHARS = 4  # fewer letters match too much to help
PER_KIND = 5


@dataclass(frozen=True)
class Similar:
    questions: list[Hit]
    articles: list[Hit]
    # True when search did not answer: the form says so instead of "nothing similar".
    unavailable: bool = False

    @property
    def empty(self) -> bool:
        return not (self.questions or self.articles)


def similar_to(*, session: Session, backend: SearchBackend, actor: User, text: str) -> Similar:
    """Up to five questions and five certified articles matching ``text``, best first."""
    text = " ".join((text or "").split())[:200]
    if len(text) < MIN_CHARS:
        return Similar(questions=[], articles=[])
    try:
        questions = search(session=session, backend=backend, viewer_user=actor, text=text, kinds=["question"],
                           limit=PER_KIND)
        articles = search(session=session, backend=backend, viewer_user=actor, text=text, kinds=["article"],
                          certified_only=True, limit=PER_KIND)
    except SearchUnavailable:
        return Similar(questions=[], articles=[], unavailable=True)
    return Similar(questions=questions.hits, articles=articles.hits)
