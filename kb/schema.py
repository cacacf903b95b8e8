"""Imports every table module so SQLModel.metadata is complete (Alembic and the schema test)."""

from __future__ import annotations

import importlib

# Listed by name so that ``kb`` does not import other project packages at module level.
MODEL_MODULES = (
    "kb.accounts.models",
    "kb.content.models",
    "workflow.models",
    "search.models",
    "expertise.models",
)


def load_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
