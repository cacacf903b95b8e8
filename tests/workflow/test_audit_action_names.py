"""Every action the audit trail records reads as words on the audit page, not as a code."""

from __future__ import annotations

import re

from tests.helpers import ROOT
from workflow.audit_trail import ACTION_NAMES, action_name
from workflow.models import Action, CertificationAction

# (``"webhook.id"`` is a foreign key, not an action.)
ADMIN_ACTION = re.compile(r'"((?:user|token|policy|expert|routing|synonym|webhook)\.(?!id")[a-z_.]+)"')


def _recorded_admin_actions() -> set[str]:
    found = set()
    for package in ("kb", "workflow", "expertise", "search"):
        for path in (ROOT / package).rglob("*.py"):
            found.update(ADMIN_ACTION.findall(path.read_text(encoding="utf-8")))
    # Password links record "user.password_link.<purpose>" (kb.accounts.password_links).
    found.discard("user.password_link")
    return found | {"user.password_link.invite", "user.password_link.reset"}


def test_every_workflow_and_administrative_action_has_a_name() -> None:
    recorded = {a.value for a in Action} | {a.value for a in CertificationAction} | _recorded_admin_actions()
    recorded |= {"expire", "supersede", "discard", "delete", "flag", "resolve_flag", "dismiss_flag"}
    assert recorded - ACTION_NAMES.keys() == set()


def test_an_unknown_action_still_reads_as_words() -> None:
    assert action_name("user.password_link.invite") == "Sent an invitation"
    assert action_name("request-changes") == "Requested changes"
    assert action_name("widget.frobnicate") == "Widget: frobnicate"
