"""Schemathesis over the whole /api/v1 through the app: no server errors, responses as documented.

Every operation is fuzzed with a bounded number of examples, as a user with every role and as
an anonymous caller, with valid data (positive) and invalid data (negative, which must be
refused with a 4xx). Derandomised, so a run is reproducible; ``KB_FUZZ_EXAMPLES`` raises the count."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from kb.content.schemas import ArticleCreate, QuestionCreate
from kb.content import forum
from kb.content import service as content

EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "8"))
CHECKS = {
    GenerationMode.POSITIVE: [not_a_server_error, status_code_conformance, content_type_conformance,
                              response_schema_conformance],
    GenerationMode.NEGATIVE: [not_a_server_error, status_code_conformance, content_type_conformance,
                              response_schema_conformance, negative_data_rejection],
}


def _seed(db, user) -> None:
    """A little content, so that small generated ids find something."""
    for n in range(3):
        content.create_article(session=db, actor=user, data=ArticleCreate(
            title=f"Refunds {n}", body="Refunds within **30 days**.", tags=["refunds"]))
        forum.ask_question(session=db, actor=user, data=QuestionCreate(
            title=f"Can I refund order {n}?", body="The customer asks.", tags=["refunds"]))
    db.commit()


def _restored(db, user, bearer) -> dict[str, str]:
    """The caller as it started (the fuzzer may have deactivated or demoted it), with a new token
    (it may have revoked its own)."""
    from kb.accounts.models import Role, User, UserRole

    db.expire_all()
    account = db.get(User, user.id)
    account.is_active = True
    have = {r.role for r in account.role_rows}
    account.role_rows.extend(UserRole(user_id=user.id, role=r.value) for r in Role if r.value not in have)
    db.commit()
    return bearer(account)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_api_has_no_server_errors_and_keeps_its_schema(app, db, make_user, bearer, mode):
    user = make_user("agent", "author", "expert", "admin")
    _seed(db, user)
    callers = {"all roles": lambda: _restored(db, user, bearer), "anonymous": dict}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    # Unknown query parameters are ignored, as HTTP APIs commonly do: not a negative case here.
    schema.config.generation.update(allow_extra_parameters=False)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for who, headers in callers.items():
            # The signed-in caller's token is sent as is (replaced per call), never mutated.
            fixed = {"Authorization": "Bearer replaced-per-call"} if who == "all roles" else None
            @given(case=operation.as_strategy(generation_mode=mode, headers=fixed))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case):
                response = case.call(headers={**(case.headers or {}), **headers()})
                case.validate_response(response, checks=CHECKS[mode])

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body): nothing to test
                continue
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them all
                failures.append(f"--- {operation.label} as {who}:\n{exc}"[:3000])
    assert not failures, f"{len(failures)} failing operations\n" + "\n".join(failures)
