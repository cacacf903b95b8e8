"""The OpenAPI document says what the API answers: one error model, every error status documented."""

from __future__ import annotations

from web.errors import ErrorPublic

ERRORS = {"401", "403", "404", "409", "413", "422"}


def test_every_operation_documents_the_error_model(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "ErrorPublic" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's default, never sent
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert ERRORS <= set(responses), f"{method.upper()} {path}"
            for status in ERRORS:
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, f"{method.upper()} {path} {status}"


def test_error_bodies_match_the_model(client, make_user, bearer):
    headers = bearer(make_user("author"))
    bodies = [
        client.get("/api/v1/entries/1").json(),  # 401
        client.get("/api/v1/entries/12345", headers=headers).json(),  # 404
        client.post("/api/v1/articles", json={"title": "", "body": "", "tags": None}, headers=headers).json(),  # 422
    ]
    for body in bodies:
        assert ErrorPublic.model_validate(body).detail
    assert set(bodies[2]["errors"]) == {"title", "body", "tags"}
