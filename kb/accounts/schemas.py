"""Request and response models for accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from kb.accounts.models import Role

MIN_PASSWORD_LENGTH = 8


class UserBase(BaseModel):
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=120)

    @field_validator("display_name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Enter a display name.")
        return value

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str) -> str:
        return value.strip().lower()


class UserCreate(UserBase):
    roles: list[Role] = Field(min_length=1)
    password: str | None = Field(default=None, max_length=200)

    @field_validator("password")
    @classmethod
    def _password_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
        return value


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    is_active: bool
    roles: list[Role]
    created_at: datetime

    @field_validator("roles", mode="before")
    @classmethod
    def _sorted_roles(cls, value):
        order = list(Role)
        return sorted((Role(r) for r in value), key=order.index)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret token. It is shown only once.")


class PasswordLinkCreate(BaseModel):
    purpose: Literal["invite", "reset"] | None = Field(
        default=None, description="`invite` or `reset`; by default an invitation when the user never had a "
                                  "password, else a reset.")


class PasswordLinkPublic(BaseModel):
    user_id: int
    purpose: Literal["invite", "reset"]
    expires_at: datetime
    emailed: bool = Field(description="Whether kb emails the link to the user (it does when email is set up).")
    url: str | None = Field(default=None, description="The link, only when kb cannot email it: pass it on to the "
                                                      "user privately. It is shown only once.")


class GroupCreate(BaseModel):
    name: str = Field(max_length=200, description="Unique whatever its case, e.g. “Tier 2”.")
    description: str = Field(default="", max_length=1000)


class GroupPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
