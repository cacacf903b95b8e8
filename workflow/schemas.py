"""Request and response models for the workflow: flags and certifications."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflow.models import CertificationStatus, FlagReason, FlagStatus

MAX_COMMENT = 2000


class CommentIn(BaseModel):
    """An optional comment recorded in the audit trail with the action."""

    comment: str = Field(default="", max_length=MAX_COMMENT)


class FlagCreate(BaseModel):
    reason: FlagReason = Field(description="outdated, incorrect, unclear or duplicate.")
    comment: str = Field(default="", max_length=MAX_COMMENT, description="What is wrong, for the experts.")

    @field_validator("comment")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class FlagDismiss(BaseModel):
    reason: str = Field(max_length=MAX_COMMENT, description="Why the flag is dismissed; sent to the flagger.")

    @field_validator("reason")
    @classmethod
    def _reason_present(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Say why the flag is dismissed; the person who raised it will read it.")
        return value


class FlagPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    revision_id: int | None = Field(description="The revision the flagger saw.")
    flagger_id: int
    reason: FlagReason
    comment: str
    status: FlagStatus
    resolution: str
    resolved_by: int | None
    resolved_at: datetime | None
    created_at: datetime


class CertificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: int
    revision_id: int
    status: CertificationStatus
    certified_by: int
    certified_at: datetime
    valid_until: datetime
    reverified_by: int | None
    reverified_at: datetime | None
