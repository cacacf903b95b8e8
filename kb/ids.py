"""The range of database ids, so that a request naming an impossible id is refused as invalid
input (422) instead of overflowing the database driver (SQLite stops at 2**63, PostgreSQL's
INTEGER columns at 2**31)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
