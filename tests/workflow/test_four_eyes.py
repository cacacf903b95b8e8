"""Four eyes: nobody reviews or certifies text they wrote, including text someone else re-saved.

Every author of a revision since the entry's last certified revision is a contributor of the text
under review; none of them may approve, request changes, reject, certify, re-verify or archive it.
The buttons (``actions_for``) and the service (``transition``) must agree.
"""

from __future__ import annotations

import pytest

from kb.content.models import Revision
from kb.errors import Forbidden
from workflow import service as wf_service
from workflow.models import Action as A

REVIEW = (A.approve, A.request_changes, A.reject)


def _commit_act(db, wf, actor, revision, action, comment=""):
    try:
        result = wf.act(db, actor, revision, action, comment)
    except Exception:
        db.rollback()
        raise
    db.commit()
    return result


def _laundered(db, wf, cast):
    """A certified v1 by the author; the topic expert writes v2; the author re-saves it as v3 with a
    trivial change and submits it. Returns (entry, v3)."""
    entry = wf.article(db, cast.author)
    db.commit()
    v1 = db.get(Revision, entry.latest_revision_id)
    wf.drive(db, v1, wf.S.certified, author=cast.author, reviewer=cast.topic_expert2)
    db.commit()
    wf.new_revision(db, cast.topic_expert, entry, body="Refunds are possible within 60 days, says the expert.")
    db.commit()
    v3 = wf.new_revision(db, cast.author, entry, body="Refunds are possible within 60 days, says the expert!")
    db.commit()
    _commit_act(db, wf, cast.author, v3, A.submit)
    return wf.entry(db, entry.id), v3


def test_an_expert_cannot_review_their_own_text_re_saved_by_someone_else(db, wf, cast):
    entry, v3 = _laundered(db, wf, cast)
    offered = wf_service.actions_for(session=db, actor=cast.topic_expert, entry=entry, revision=db.get(Revision, v3.id))
    assert not set(offered) & {*REVIEW, A.certify}, offered
    for action in REVIEW:
        with pytest.raises(Forbidden, match="contributed"):
            _commit_act(db, wf, cast.topic_expert, v3, action, "A reason.")
    assert wf.state(db, v3.id) == wf.S.in_review.value
    assert wf.reviews(db, v3.id) == []


def test_an_expert_cannot_certify_their_own_text_approved_by_another(db, wf, cast):
    entry, v3 = _laundered(db, wf, cast)
    _commit_act(db, wf, cast.topic_expert2, v3, A.approve)
    entry = wf.entry(db, entry.id)
    offered = wf_service.actions_for(session=db, actor=cast.topic_expert, entry=entry, revision=db.get(Revision, v3.id))
    assert A.certify not in offered
    with pytest.raises(Forbidden, match="contributed"):
        _commit_act(db, wf, cast.topic_expert, v3, A.certify)
    # Someone who wrote none of it may.
    _commit_act(db, wf, cast.topic_expert2, v3, A.certify)
    assert wf.state(db, v3.id) == wf.S.certified.value


def test_contributors_before_the_last_certification_may_review_again(db, wf, cast):
    """The author of the certified v1 (already checked by someone else) may review the next change."""
    entry = wf.article(db, cast.topic_expert)
    db.commit()
    v1 = db.get(Revision, entry.latest_revision_id)
    wf.drive(db, v1, wf.S.certified, author=cast.topic_expert, reviewer=cast.topic_expert2)
    db.commit()
    v2 = wf.new_revision(db, cast.author, entry)
    db.commit()
    _commit_act(db, wf, cast.author, v2, A.submit)
    _commit_act(db, wf, cast.topic_expert, v2, A.approve)
    _commit_act(db, wf, cast.topic_expert, v2, A.certify)
    assert wf.state(db, v2.id) == wf.S.certified.value


def test_a_contributor_cannot_reverify_or_archive(db, wf, cast):
    entry, v3 = _laundered(db, wf, cast)
    _commit_act(db, wf, cast.topic_expert2, v3, A.approve)
    _commit_act(db, wf, cast.topic_expert2, v3, A.certify)
    entry = wf.entry(db, entry.id)
    for operation in (wf_service.reverify, wf_service.archive):
        with pytest.raises(Forbidden):
            operation(session=db, actor=cast.topic_expert, entry=entry)
        db.rollback()
