"""Ratings: helpful / not helpful votes and "used to solve a case" reuse of articles and answers.

Every vote and reuse updates the entry's ``EntryRating`` summary in the same transaction. Writers
first lock that summary row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers hold the
database lock from ``BEGIN IMMEDIATE``), so the changes to one entry's ratings happen one after
the other: each transaction then reads the committed votes afresh and recounts them, and the
summary stays equal to the rows under any number of concurrent requests. The unique constraint
on (entry, user) is the last guard for "one vote per person".

Published events (the reputation engineer and the search outbox react to them), each with the
entry's new rating summary, which search ranks by (``search.facts``):

* ``vote.changed``: data ``{"value": 1 | -1 | 0, "previous": 1 | -1 | 0, "author_id": ...,
  "helpful_score": <wilson>, "reuse_count": ...}``
* ``entry.reused``: data ``{"reuse_id", "case_ref", "source", "author_id", "helpful_score",
  "reuse_count"}``
"""

from __future__ import annotations

import math
from datetime import timedelta
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision
from kb.errors import Forbidden, NotFound, ValidationFailed
from kb.events import ENTRY_REUSED, VOTE_CHANGED, Event, publish
from expertise.models import EntryRating, Reuse, ReuseSource, Vote

HELPFUL, NOT_HELPFUL, NO_VOTE = 1, -1, 0
MAX_CASE_REF = 100
# Within this window, one person's reuses of one entry are one case unless they name different
# cases: the same reference again, a "Copy answer" (no reference) and then "Used to solve case X",
# or a copy after a link, are recorded once (see ``record_reuse``).
REPEAT_WINDOW = timedelta(hours=12)
RATED_KINDS = (EntryKind.article.value, EntryKind.answer.value)


@dataclass
class RatingSummary:
    """What a page or the API shows about an entry's ratings, for one viewer."""

    entry_id: int
    helpful: int = 0
    not_helpful: int = 0
    wilson: float = 0.0
    reuse_count: int = 0
    my_vote: int = NO_VOTE
    # The viewer may vote (not their own work, not a question); pages draw the buttons from it.
    can_vote: bool = False


def wilson_lower_bound(positive: int, total: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval of the helpful share (95 % with z=1.96).

    Ranks by how sure we are that an entry is helpful: 90 of 100 beats 9 of 10 beats 1 of 1."""
    if total <= 0:
        return 0.0
    share = positive / total
    z2 = z * z
    centre = share + z2 / (2 * total)
    margin = z * math.sqrt((share * (1 - share) + z2 / (4 * total)) / total)
    return max(0.0, (centre - margin) / (1 + z2 / total))


# --- who may rate ------------------------------------------------------------------------------


def vote_refusal(actor: User, entry: Entry, revision: Revision | None) -> str | None:
    """Why ``actor`` may not vote on ``entry`` (as ``revision``), or None when they may.

    The one copy of the rule: pages draw the buttons from it, the service enforces it."""
    if entry.kind not in RATED_KINDS:
        return "Questions are not rated: vote on their answers instead."
    if revision is None:
        return "There is nothing to rate in this entry yet."
    if actor.id in (entry.author_id, revision.author_id):
        return "You cannot rate your own work; your colleagues' votes tell how helpful it is."
    return None


def _seen_revision(session: Session, actor: User, entry: Entry) -> Revision:
    """The revision ``actor`` sees of ``entry``; NotFound when they may not see the entry."""
    entry = content.get_entry(session=session, actor=actor, entry_id=entry.id)
    revision = content.visible_revision(session=session, actor=actor, entry=entry)
    if revision is None:
        raise NotFound("That entry does not exist, or you cannot see it.")
    return revision


def _rated_revision(session: Session, actor: User, entry: Entry) -> Revision:
    """Votes and reuse concern the certified revision (what agents use) when there is one, even
    when the actor (an expert, an admin) sees a newer draft: its author may not rate it, and the
    credit goes to whoever wrote what agents read."""
    revision = _seen_revision(session, actor, entry)
    if entry.certified_revision_id and entry.certified_revision_id != revision.id:
        return session.get(Revision, entry.certified_revision_id)
    return revision


# --- the summary row ---------------------------------------------------------------------------


def _locked_rating(session: Session, entry_id: int) -> EntryRating:
    """The entry's summary row, created if missing, locked until the transaction ends."""
    statement = (select(EntryRating).where(EntryRating.entry_id == entry_id).with_for_update()
                 .execution_options(populate_existing=True))
    rating = session.exec(statement).first()
    if rating is None:
        try:
            with session.begin_nested():
                session.add(EntryRating(entry_id=entry_id))
        except IntegrityError:
            pass  # a concurrent first rating created it (and has committed): lock that one
        rating = session.exec(statement).one()
    return rating


def _recount(session: Session, rating: EntryRating) -> None:
    """Set the summary from the rows (the caller holds the row's lock, so no one recounts at once)."""
    entry_id = rating.entry_id
    helpful, not_helpful, reuse_count = session.exec(select(
        select(func.count()).select_from(Vote).where(Vote.entry_id == entry_id, Vote.value == HELPFUL)
        .scalar_subquery(),
        select(func.count()).select_from(Vote).where(Vote.entry_id == entry_id, Vote.value == NOT_HELPFUL)
        .scalar_subquery(),
        select(func.count()).select_from(Reuse).where(Reuse.entry_id == entry_id).scalar_subquery(),
    )).one()
    rating.helpful, rating.not_helpful, rating.reuse_count = helpful, not_helpful, reuse_count
    rating.wilson = wilson_lower_bound(helpful, helpful + not_helpful)
    rating.updated_at = utcnow()
    session.add(rating)
    session.flush()


def _published(rating: EntryRating) -> dict:
    """The summary facts events carry: search ranks by them and may not read this table."""
    return {"helpful_score": rating.wilson, "reuse_count": rating.reuse_count}


def _summary(rating: EntryRating, *, my_vote: int, can_vote: bool) -> RatingSummary:
    return RatingSummary(entry_id=rating.entry_id, helpful=rating.helpful, not_helpful=rating.not_helpful,
                         wilson=rating.wilson, reuse_count=rating.reuse_count, my_vote=my_vote, can_vote=can_vote)


# --- votes -------------------------------------------------------------------------------------


def _my_vote_row(session: Session, entry_id: int, user_id: int) -> Vote | None:
    return session.exec(select(Vote).where(Vote.entry_id == entry_id, Vote.user_id == user_id)
                        .execution_options(populate_existing=True)).first()


def _insert_vote(session: Session, entry_id: int, user_id: int, value: int) -> int:
    """Insert the vote; if the same person's vote appeared meanwhile, change it. The previous value."""
    try:
        with session.begin_nested():
            session.add(Vote(entry_id=entry_id, user_id=user_id, value=value))
        return NO_VOTE
    except IntegrityError:  # the unique (entry, user) constraint: one vote per person
        existing = _my_vote_row(session, entry_id, user_id)
        if existing is None:  # not the unique constraint (the entry or the user is gone)
            raise
        previous = existing.value
        existing.value, existing.updated_at = value, utcnow()
        session.add(existing)
        session.flush()
        return previous


def _set_vote(session: Session, entry: Entry, revision: Revision, actor: User, value: int) -> RatingSummary:
    rating = _locked_rating(session, entry.id)  # first: serialises every rating change of this entry
    can_vote = vote_refusal(actor, entry, revision) is None
    current = _my_vote_row(session, entry.id, actor.id)
    previous = current.value if current else NO_VOTE
    if value == previous:
        return _summary(rating, my_vote=value, can_vote=can_vote)
    if current is None:
        previous = _insert_vote(session, entry.id, actor.id, value)
        if previous == value:  # the same vote, sent twice at once
            return _summary(rating, my_vote=value, can_vote=can_vote)
    elif value == NO_VOTE:
        session.delete(current)
    else:
        current.value, current.updated_at = value, utcnow()
        session.add(current)
    session.flush()
    _recount(session, rating)
    publish(session=session, event=Event(VOTE_CHANGED, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id,
                           data={"value": value, "previous": previous, "author_id": revision.author_id,
                                 **_published(rating)}))
    return _summary(rating, my_vote=value, can_vote=can_vote)


def vote(*, session: Session, entry: Entry, actor: User, value: int) -> RatingSummary:
    """Vote helpful (1) or not helpful (-1); voting the other way replaces the earlier vote."""
    if value not in (HELPFUL, NOT_HELPFUL) or isinstance(value, bool):
        raise ValidationFailed("A vote is 1 (helpful) or -1 (not helpful).", field="value")
    revision = _rated_revision(session, actor, entry)
    refusal = vote_refusal(actor, entry, revision)
    if refusal:
        raise Forbidden(refusal)
    return _set_vote(session, entry, revision, actor, value)


def clear_vote(*, session: Session, entry: Entry, actor: User) -> RatingSummary:
    """Take back one's vote (nothing happens without one)."""
    revision = _rated_revision(session, actor, entry)
    if entry.kind not in RATED_KINDS:
        raise Forbidden(vote_refusal(actor, entry, revision))
    return _set_vote(session, entry, revision, actor, NO_VOTE)


# --- reuse -------------------------------------------------------------------------------------


def record_reuse(*, session: Session, entry: Entry, actor: User, case_ref: str = "",
                 source: ReuseSource | str) -> Reuse:
    """Link ``entry`` to a customer case it helped solve (optionally naming the case).

    One case is one reuse: within ``REPEAT_WINDOW`` of the same person's last reuse of the entry,
    a reuse without a reference (a copy, a repeated click) is that same case; one with a reference
    is the same case as an earlier one with that reference, or names the earlier unnamed one (the
    answer was copied for this case, then linked to it). Only a new case counts and is published."""
    try:
        source = ReuseSource(source)
    except ValueError:
        raise ValidationFailed(f"Unknown source {source!r} of a reuse.", field="source") from None
    case_ref = (case_ref or "").strip()
    if len(case_ref) > MAX_CASE_REF:
        raise ValidationFailed(f"A case reference is at most {MAX_CASE_REF} characters "
                               f"(this one has {len(case_ref)}).", field="case_ref")
    if entry.kind not in RATED_KINDS:
        raise Forbidden("A question does not solve a case by itself: record the answer you used instead.")
    revision = _rated_revision(session, actor, entry)
    rating = _locked_rating(session, entry.id)
    repeat = _same_case(session, entry, actor, case_ref)
    if repeat is not None:
        return repeat
    reuse = Reuse(entry_id=entry.id, revision_id=revision.id, user_id=actor.id, case_ref=case_ref,
                  source=source.value)
    session.add(reuse)
    session.flush()
    _recount(session, rating)
    publish(session=session, event=Event(ENTRY_REUSED, entry_id=entry.id, revision_id=revision.id, actor_id=actor.id,
                           data={"reuse_id": reuse.id, "case_ref": case_ref, "source": source.value,
                                 "author_id": revision.author_id, **_published(rating)}))
    return reuse


def _same_case(session: Session, entry: Entry, actor: User, case_ref: str) -> Reuse | None:
    """The actor's recent reuse of ``entry`` that ``case_ref`` belongs to (named after it when it
    had no reference yet), or None for a new case."""
    recent = session.exec(select(Reuse).where(
        Reuse.entry_id == entry.id, Reuse.user_id == actor.id, Reuse.created_at >= utcnow() - REPEAT_WINDOW)
        .order_by(Reuse.created_at.desc(), Reuse.id.desc())).all()
    if not recent:
        return None
    if not case_ref:  # nothing tells it apart from the latest case
        return recent[0]
    named = next((r for r in recent if r.case_ref == case_ref), None)
    if named is not None:
        return named
    unnamed = next((r for r in recent if not r.case_ref), None)
    if unnamed is not None:  # copied for this case, now linked to it: still one case
        unnamed.case_ref = case_ref
        session.add(unnamed)
        session.flush()
    return unnamed


# --- reading -----------------------------------------------------------------------------------


def ratings_for(*, session: Session, entry_ids: list[int], user: User) -> dict[int, RatingSummary]:
    """Counts and ``user``'s own vote per entry (entries without ratings get zeros).
    ``can_vote`` is left False: ``rating_view`` decides it for one entry."""
    ids = list(dict.fromkeys(entry_ids))
    result = {entry_id: RatingSummary(entry_id=entry_id) for entry_id in ids}
    if not ids:
        return result
    for rating in session.exec(select(EntryRating).where(EntryRating.entry_id.in_(ids))):
        result[rating.entry_id] = _summary(rating, my_vote=NO_VOTE, can_vote=False)
    mine = session.exec(select(Vote.entry_id, Vote.value).where(Vote.user_id == user.id, Vote.entry_id.in_(ids)))
    for entry_id, value in mine:
        result[entry_id].my_vote = value
    return result


def rating_view(*, session: Session, actor: User, entry: Entry, revision: Revision) -> RatingSummary:
    """The rating panel of an entry page: counts, my vote, and whether I may vote (``revision``
    is the one the page shows)."""
    return rating_views(session=session, actor=actor, shown=[(entry, revision)])[entry.id]


def rating_views(*, session: Session, actor: User,
                 shown: list[tuple[Entry, Revision | None]]) -> dict[int, RatingSummary]:
    """``rating_view`` for several entries (each with the revision the page shows), in three queries."""
    summaries = ratings_for(session=session, entry_ids=[entry.id for entry, _ in shown], user=actor)
    certified_ids = {e.certified_revision_id for e, r in shown
                     if e.certified_revision_id is not None and (r is None or e.certified_revision_id != r.id)}
    certified = {r.id: r for r in session.exec(select(Revision).where(Revision.id.in_(certified_ids)))} \
        if certified_ids else {}
    for entry, revision in shown:
        rated = certified.get(entry.certified_revision_id, revision) if entry.certified_revision_id else revision
        summaries[entry.id].can_vote = (vote_refusal(actor, entry, rated) is None
                                        and vote_refusal(actor, entry, revision) is None)
    return summaries
