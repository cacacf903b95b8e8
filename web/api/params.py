"""Path and query parameters shared by the API routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from kb.ids import MAX_ID

PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="A database id.")]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID, description="A database id.")]
