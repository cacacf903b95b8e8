"""Domain errors raised by services; ``web`` maps each to an HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` is a sentence a person can act on."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class NotFound(DomainError):
    status_code = 404


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class InvalidTransition(Conflict):
    """The action is not allowed in the current state."""


class Gone(DomainError):
    """What was asked for existed once and no longer works (an expired or used one-time link)."""

    status_code = 410


class ValidationFailed(DomainError):
    status_code = 422


class TooLarge(DomainError):
    status_code = 413


class UnsupportedType(DomainError):
    status_code = 415


class Throttled(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class SearchUnavailable(DomainError):
    """The search backend did not answer. Writes never depend on it (the outbox keeps them for
    the indexer), so only searching fails: the API says so, pages show themselves without results."""

    status_code = 503
