"""The expertise scores workflow qualifies reviewers by, kept in workflow's own table.

A policy's ``expert_min_score`` makes users whose expertise score in a topic reaches it experts
of the topic (``workflow.policy.scoring_experts``). The scores are computed by ``expertise``,
which workflow may not import; instead expertise publishes each recomputed score here, in the
same transaction, and workflow reads only ``ReviewerScore``. Renaming a column of expertise's
tables can then no longer change who may certify without a test noticing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlmodel import Session, select

from workflow.models import ReviewerScore


def record(*, session: Session, user_ids: Iterable[int], scores: Mapping[tuple[int, int], float],
           tag_ids: Iterable[int] | None = None) -> None:
    """Make the scores of these users equal ``scores`` ((user id, topic id) -> score): update,
    insert, and delete the topics they no longer have a score in. Users left out keep theirs, and
    so do topics left out of ``tag_ids`` (None: every topic)."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    statement = select(ReviewerScore).where(ReviewerScore.user_id.in_(ids))
    if tag_ids is not None:
        statement = statement.where(ReviewerScore.tag_id.in_(sorted(set(tag_ids))))
    existing = {(row.user_id, row.tag_id): row for row in session.exec(statement)}
    for pair, row in existing.items():
        if pair not in scores:
            session.delete(row)
    for (user_id, tag_id), score in scores.items():
        row = existing.get((user_id, tag_id))
        if row is None:
            session.add(ReviewerScore(user_id=user_id, tag_id=tag_id, score=score))
        elif row.score != score:
            row.score = score
    session.flush()
