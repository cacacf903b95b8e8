"""Request and response models for ratings (votes, reuse)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from expertise.ratings import RatingSummary


class VoteIn(BaseModel):
    value: Literal[1, -1] = Field(description="1: helpful, -1: not helpful.")

    @field_validator("value", mode="before")
    @classmethod
    def _one_or_minus_one(cls, value):
        if isinstance(value, bool) or value not in (1, -1):
            raise ValueError("A vote is 1 (helpful) or -1 (not helpful)")
        return value


class RatingPublic(BaseModel):
    entry_id: int
    helpful: int
    not_helpful: int
    # Wilson lower bound (95 %) of the helpful share: what ranking uses; 0 without votes.
    wilson: float
    my_vote: Literal[1, -1, 0] = Field(description="Your vote: 1, -1, or 0 when you have not voted.")

    @classmethod
    def of(cls, summary: RatingSummary) -> RatingPublic:
        return cls(entry_id=summary.entry_id, helpful=summary.helpful, not_helpful=summary.not_helpful,
                   wilson=summary.wilson, my_vote=summary.my_vote)


class ReuseCreate(BaseModel):
    # The service trims it and allows 100 characters; this only bounds what is read.
    case_ref: str = Field(default="", max_length=1000,
                          description="The customer case this entry helped solve (optional, at most 100 characters).")


class ReusePublic(BaseModel):
    id: int
    entry_id: int
    case_ref: str
    # How many times the entry has been used to solve a case, this one included.
    reuse_count: int
