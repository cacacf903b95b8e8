"""``policy.non_default_options``: a policy's summary names every option that differs from kb's default."""

from __future__ import annotations

from workflow import policy
from workflow.models import Policy


def test_the_defaults_need_no_words():
    assert policy.non_default_options(Policy()) == []
    assert policy.non_default_options(Policy(tag_id=7)) == []  # which topic is not an option


def test_every_changed_option_is_named_in_table_order():
    changed = Policy(required_approvals=2, validity_days=30, reminder_days=0, approval_certifies=True,
                     approver_cannot_certify=True, experts_only_review=True, expert_min_score=12.5)
    assert policy.non_default_options(changed) == [
        "2 approvals required", "certification valid 30 days", "no expiry reminder", "approval certifies at once",
        "the approver may not also certify", "only the topic's experts review", "experts by score ≥ 12.5"]
    assert policy.non_default_options(Policy(approver_cannot_certify=True)) == ["the approver may not also certify"]
    assert policy.non_default_options(Policy(approval_certifies=True)) == ["approval certifies at once"]
    assert policy.non_default_options(Policy(validity_days=1)) == ["certification valid 1 day"]


def test_every_option_of_the_table_is_covered(monkeypatch):
    """An option added to the table later shows too, by its name, until it gets words of its own."""
    options = [name for name in Policy.model_fields if name not in ("id", "tag_id")]
    monkeypatch.setattr(policy, "_OPTION_WORDS", {})
    everything_changed = Policy(required_approvals=3, validity_days=10, reminder_days=2, approval_certifies=True,
                                approver_cannot_certify=True, experts_only_review=True, expert_min_score=5.0)
    described = policy.non_default_options(everything_changed)
    assert len(described) == len(options)
    assert "approval certifies: yes" in described and "expert min score: 5" in described
