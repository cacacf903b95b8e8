"""The expertise package's reactions to domain events, registered once by the app and the CLI.

Each module that reacts owns a ``register()``; this module only lists them, so the composition
roots (``web.app.create_app`` and ``kb.cli``) have one call to make.
"""

from __future__ import annotations


def register() -> None:
    """Subscribe every expertise reaction (idempotent)."""
    # Each helper module adds its own line here, e.g. ``reputation.register()``.
    from expertise import questions, routing

    routing.register()  # auto-assign reviewers on submit
    questions.register()  # route new questions to the experts of their tags
    from expertise import reputation, scores

    reputation.register()  # points for accepted answers, certifications, votes, reuse, reviews, upheld flags
    scores.register()  # expertise per user x topic, recomputed from the evidence an event touches
