"""Request and response models for content."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from kb.content.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tags
from kb.ids import Id

TAGS_HELP = (f"Tags (topics), as a list of words or one comma-separated string; at most {MAX_TAGS}, "
             f"each under {MAX_TAG_LENGTH} characters. Spaces and case are normalised.")
# What the API accepts, said as it is: a list of strings, or one comma-separated string (forms).
Tags = Annotated[list[str], WithJsonSchema({
    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}], "description": TAGS_HELP})]


class _Text(BaseModel):
    # Body size is checked by the service (413 with a clear message), not here (422).
    body: str

    @field_validator("body")
    @classmethod
    def _body_present(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Write something in the body.")
        return value.replace("\r\n", "\n")


class _Titled(_Text):
    title: str = Field(max_length=200)
    tags: Tags = Field(default_factory=list)

    @field_validator("title")
    @classmethod
    def _title_present(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Give it a title.")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value):
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            return normalise_tags(value)
        raise ValueError('Give the tags as a list of words, like ["refunds", "billing"], or leave them out')


class ArticleCreate(_Titled):
    audience: list[str] | None = Field(default=None, max_length=50, description=(
        "The names of the groups the article is limited to (GET /groups); empty or left out: everyone signed in."))


class QuestionCreate(_Titled):
    pass


class AnswerCreate(_Text):
    pass


class RevisionCreate(_Titled):
    """A new revision of an entry; ``base_revision_id`` is the revision the edit started from."""

    base_revision_id: Id | None = None
    title: str = Field(default="", max_length=200)

    @field_validator("title")
    @classmethod
    def _title_present(cls, value: str) -> str:  # answers have no title of their own
        return " ".join(value.split())


class RevisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    number: int
    parent_id: int | None
    title: str
    body: str
    tags: list[str] = []
    author_id: int
    state: str
    created_at: datetime


class RevisionSummary(BaseModel):
    id: int
    number: int
    state: str


class EntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    parent_id: int | None
    author_id: int
    co_author_id: int | None = Field(default=None, description="A second person with the author's rights: on "
                                     "an article turned from a forum answer, whoever turned it into an article.")
    latest_revision_id: int | None
    certified_revision_id: int | None
    accepted_answer_id: int | None
    promoted_from_id: int | None
    created_at: datetime
    activity_at: datetime
    revision: RevisionPublic | None = Field(default=None, description="The revision this caller sees.")
    limited_to_groups: bool = Field(default=False, description="Only members of ``audience`` (and the authors "
                                    "and administrators) see it.")
    audience: list[str] = Field(default_factory=list, description="The names of the groups the entry is limited "
                                "to; empty: everyone signed in.")
    public: bool = Field(default=False, description="Customer-facing: published by ``kb publish``.")


class AudienceUpdate(BaseModel):
    groups: list[str] = Field(default_factory=list, max_length=50, description=(
        "The names of the groups to limit the entry to; empty: everyone signed in."))
    public: bool | None = Field(default=None, description=(
        "Customer-facing: ``kb publish`` puts its certified text in the static help centre (when it is not "
        "limited to groups). Left out: unchanged."))


class DiffPublic(BaseModel):
    revision_id: int
    against_id: int
    title: str = Field(description="Inline HTML diff of the titles (<ins>/<del>).")
    tags: str
    body: str = Field(description="Inline HTML word diff of the Markdown bodies. Bodies too large to compare "
                                  "word by word start with a <strong class=\"diff-notice\"> saying so, and show "
                                  "their changed parts whole.")
