"""Synonyms that admins manage: a customer's word or phrase and the knowledge base's words for it
("money back" -> "refund"). Searching the phrase also finds its alternatives (one way), on both
backends (``SearchBackend.set_synonyms``).

Every process applies the rules it finds in the database: ``sync`` runs before each search and
compares a cheap version of the table (number of rules, latest change) at most every
``SYNC_SECONDS``, or at once after this process changed a rule, and gives the rules to the
backend only when they changed (Meilisearch's settings are updated only when they differ).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.actors import SYSTEM, Actor, require_admin
from kb.clock import utcnow
from kb.errors import Conflict, NotFound, ValidationFailed
from kb.events import admin_action
from search.analysis import WORD_RE, analyze
from search.models import SearchSynonym

log = logging.getLogger(__name__)

MAX_WORDS = 4
MAX_CHARS = 100
MAX_ALTERNATIVES = 20
SYNC_SECONDS = 5.0

#: A starter set for a customer-service knowledge base (``kb demo``): how customers say it ->
#: how articles say it.
DEMO_SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("money back", ("refund",)),
    ("money", ("refund",)),
    ("reimburse", ("refund",)),
    ("erase", ("delete",)),
    ("log in", ("sign in",)),
    ("login", ("sign in",)),
    ("send back", ("return",)),
    ("swap", ("exchange",)),
    ("receipt", ("invoice",)),
    ("double charged", ("charged twice",)),
    ("paid twice", ("charged twice",)),
    ("coupon", ("promo code",)),
    ("voucher", ("promo code", "gift card")),
    ("discount code", ("promo code",)),
    ("unsubscribe", ("opt out",)),
    ("promotional", ("marketing",)),
    ("newsletter", ("marketing",)),
    ("spam", ("junk",)),
    ("package", ("parcel",)),
    ("cracked", ("damaged", "broken")),
    ("smashed", ("damaged", "broken")),
    ("cheaper", ("price drop",)),
    ("year", ("annual",)),
    ("subscription", ("plus", "membership")),
    ("headphones", ("buds", "earbuds")),
    ("earphones", ("buds", "earbuds")),
    ("tablet", ("tab",)),
    ("verification code", ("2fa", "two-factor")),
    ("text message", ("sms",)),
    ("hacked", ("takeover",)),
    ("someone else's order", ("wrong item",)),
    ("wife", ("partner", "on behalf")),
    ("husband", ("partner", "on behalf")),
)


@dataclass(frozen=True)
class SynonymRule:
    id: int
    phrase: str
    alternatives: list[str]
    updated_at: datetime
    updated_by: int | None


def _rule(row: SearchSynonym) -> SynonymRule:
    return SynonymRule(id=row.id, phrase=row.phrase, alternatives=list(row.alternatives),
                       updated_at=row.updated_at, updated_by=row.updated_by)


def _require_admin(actor: Actor) -> None:
    require_admin(actor, "Only an administrator can manage search synonyms.")


# -- validation ------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join((text or "").split()).lower()


def _check_words(text: str, *, what: str, field_name: str) -> tuple[str, ...]:
    """The stemmed words of ``text`` as search sees them; ValidationFailed with a sentence when
    it is empty, too long, or only words search ignores."""
    if not text:
        raise ValidationFailed(f"Enter {what}.", field=field_name)
    if len(text) > MAX_CHARS:
        raise ValidationFailed(f"“{text[:40]}…” is too long: {what} has at most {MAX_CHARS} characters.",
                               field=field_name)
    words = WORD_RE.findall(text)
    if not words:
        raise ValidationFailed(f"“{text}” has no letters or digits: {what} must be words.", field=field_name)
    if len(words) > MAX_WORDS:
        raise ValidationFailed(f"“{text}” has {len(words)} words: {what} has 1 to {MAX_WORDS} words.",
                               field=field_name)
    stems = tuple(analyze(text))
    if not stems:
        raise ValidationFailed(f"“{text}” has only common words that search ignores (like “the” or “my”); "
                               "use a word that carries the meaning.", field=field_name)
    return stems


def validate(phrase: str, alternatives: Iterable[str]) -> tuple[str, list[str]]:
    """(phrase, alternatives) cleaned up (lowercase, single spaces), or ValidationFailed."""
    phrase = _clean(phrase)
    key = _check_words(phrase, what="a word or phrase", field_name="phrase")
    cleaned: list[str] = []
    seen: dict[tuple[str, ...], str] = {}
    for raw in alternatives:
        alternative = _clean(raw)
        if not alternative:
            continue
        stems = _check_words(alternative, what="each alternative", field_name="alternatives")
        if stems == key:
            raise ValidationFailed(f"“{alternative}” means the same as “{phrase}” to search; "
                                   "give the words articles use instead.", field="alternatives")
        if stems in seen:
            raise ValidationFailed(f"“{alternative}” is listed twice (search reads it like “{seen[stems]}”).",
                                   field="alternatives")
        seen[stems] = alternative
        cleaned.append(alternative)
    if not cleaned:
        raise ValidationFailed("Give at least one alternative: the words articles use for it.", field="alternatives")
    if len(cleaned) > MAX_ALTERNATIVES:
        raise ValidationFailed(f"Give at most {MAX_ALTERNATIVES} alternatives per rule.", field="alternatives")
    return phrase, cleaned


# -- service -----------------------------------------------------------------------------------


def list_rules(*, session: Session, actor: Actor) -> list[SynonymRule]:
    _require_admin(actor)
    return [_rule(r) for r in session.exec(select(SearchSynonym).order_by(SearchSynonym.phrase))]


def save_rule(*, session: Session, actor: Actor, phrase: str, alternatives: Sequence[str]) -> SynonymRule:
    """Add a rule, or replace the alternatives of the rule with the same phrase."""
    _require_admin(actor)
    phrase, cleaned = validate(phrase, alternatives)
    key = tuple(analyze(phrase))
    row = session.exec(select(SearchSynonym).where(SearchSynonym.phrase == phrase)).first()
    for other in session.exec(select(SearchSynonym).where(SearchSynonym.phrase != phrase)):
        if tuple(analyze(other.phrase)) == key:
            raise ValidationFailed(f"“{phrase}” means the same to search as “{other.phrase}”, which already has a "
                                   "rule: change that rule instead.", field="phrase")
    if row is None:
        row = SearchSynonym(phrase=phrase)
    row.alternatives = cleaned
    row.updated_by = actor.id
    row.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same phrase added at the same moment by someone else
        raise Conflict(f"A rule for “{phrase}” was saved a moment ago by someone else; reload to see it.",
                       field="phrase") from None
    _changed(session)
    admin_action(session=session, actor_id=actor.id, action="synonym.save", target=phrase,
                 detail=f"Alternatives: {', '.join(cleaned)}.")
    return _rule(row)


def delete_rule(*, session: Session, actor: Actor, rule_id: int | None = None,
                phrase: str | None = None) -> SynonymRule:
    """Delete the rule with this id (pages) or phrase (command line)."""
    _require_admin(actor)
    if rule_id is not None:
        row = session.get(SearchSynonym, rule_id)
    else:
        row = session.exec(select(SearchSynonym).where(SearchSynonym.phrase == _clean(phrase or ""))).first()
    if row is None:
        which = f" for “{_clean(phrase or '')}”" if rule_id is None else ""
        raise NotFound(f"There is no synonym rule{which} (it may have been deleted already).")
    deleted = _rule(row)
    session.delete(row)
    session.flush()
    _changed(session)
    admin_action(session=session, actor_id=actor.id, action="synonym.delete", target=deleted.phrase)
    return deleted


def rules_for_search(*, session: Session) -> dict[str, list[str]]:
    """Every rule, as the backends take them: {"money back": ["refund"]}."""
    return {r.phrase: list(r.alternatives) for r in session.exec(select(SearchSynonym).order_by(SearchSynonym.id))}


def load_demo_synonyms(*, session: Session) -> int:
    """Add the starter rules whose phrase has no rule yet; returns how many were added."""
    existing = {p for p in session.exec(select(SearchSynonym.phrase))}
    added = 0
    for phrase, alternatives in DEMO_SYNONYMS:
        if phrase not in existing:
            save_rule(session=session, actor=SYSTEM, phrase=phrase, alternatives=alternatives)
            added += 1
    return added


# -- keeping every process's backend in step ----------------------------------------------------


@dataclass
class _SyncState:
    version: tuple | None = None
    checked_at: datetime | None = None
    generation: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)


_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()
# Bumped when this process commits a change to the rules: its own searches use it at once.
_generation = 0
_CHANGED = "search_synonyms_changed"


def _changed(session: Session) -> None:
    session.info[_CHANGED] = True


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    global _generation
    if session.info.pop(_CHANGED, False):
        _generation += 1


@sa.event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop(_CHANGED, None)


def _version(session: Session) -> tuple:
    """A cheap fingerprint of the rules: any add, change or delete changes it."""
    query = sa.select(sa.func.count(SearchSynonym.id), sa.func.max(SearchSynonym.updated_at))
    count, latest = session.execute(query).one()
    return int(count), latest


def sync(*, session: Session, backend, force: bool = False) -> bool:
    """Give ``backend`` the current rules when they changed since it last got them (checked at
    most every SYNC_SECONDS unless this process changed them, or ``force``). Returns whether
    the backend was updated. A backend that refuses (down) is tried again on the next check."""
    if not hasattr(backend, "set_synonyms"):
        return False
    with _states_lock:
        state = _states.setdefault(backend, _SyncState())
    now = utcnow()
    recent = state.checked_at is not None and abs(now - state.checked_at) < timedelta(seconds=SYNC_SECONDS)
    if recent and state.generation == _generation and not force:
        return False  # the common case: no lock, no query
    # One thread checks (and talks to the backend) at a time; the others search with the rules
    # the backend has rather than wait for it (a forced sync waits).
    if not state.lock.acquire(blocking=force):
        return False
    try:
        generation = _generation
        version = _version(session)
        state.checked_at, state.generation = now, generation
        if version == state.version and not force:
            return False
        try:
            backend.set_synonyms(rules_for_search(session=session))
        except Exception as exc:  # the backend is down: searches say so; retry on the next check
            log.warning("could not apply search synonyms to %s: %s", getattr(backend, "name", backend), exc)
            state.version = None
            return False
        state.version = version
        return True
    finally:
        state.lock.release()
