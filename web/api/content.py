"""JSON API for content: articles, entries, revisions, diffs, questions and answers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlmodel import Session

from kb.accounts.models import User
from kb.content import forum
from kb.content import service as content
from kb.content.models import Entry, Revision
from kb.content.schemas import (
    AnswerCreate,
    ArticleCreate,
    DiffPublic,
    EntryPublic,
    QuestionCreate,
    RevisionCreate,
    RevisionPublic,
)
from web.api.params import PathId, QueryId
from web.errors import error_doc
from web.deps import ApiUser, SessionDep

router = APIRouter(tags=["content"])
CONFLICT = {409: error_doc("The base revision is not the latest; the body names the latest revision.")}


def revision_public(session: Session, revision: Revision) -> RevisionPublic:
    tags = content.tags_of(session=session, revision_ids=[revision.id])[revision.id]
    return RevisionPublic.model_validate({**revision.model_dump(), "tags": tags})


def entry_public(session: Session, actor: User, entry: Entry) -> EntryPublic:
    revision = content.visible_revision(session=session, actor=actor, entry=entry)
    return EntryPublic.model_validate(
        {**entry.model_dump(), "revision": revision_public(session, revision) if revision else None}
    )


@router.post("/articles", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def create_article(data: ArticleCreate, session: SessionDep, user: ApiUser):
    """Create an article; its first revision is a draft."""
    return entry_public(session, user, content.create_article(session=session, actor=user, data=data))


@router.get("/entries/{entry_id}", response_model=EntryPublic)
def get_entry(entry_id: PathId, session: SessionDep, user: ApiUser):
    return entry_public(session, user, content.get_entry(session=session, actor=user, entry_id=entry_id))


@router.get("/entries/{entry_id}/revisions", response_model=list[RevisionPublic])
def list_revisions(entry_id: PathId, session: SessionDep, user: ApiUser):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return [revision_public(session, r) for r in content.list_revisions(session=session, actor=user, entry=entry)]


@router.post("/entries/{entry_id}/revisions", response_model=RevisionPublic, status_code=status.HTTP_201_CREATED,
             responses=CONFLICT)
def create_revision(entry_id: PathId, data: RevisionCreate, session: SessionDep, user: ApiUser):
    """Save a new revision edited from ``base_revision_id``; 409 if that is no longer the latest."""
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    return revision_public(session, content.save_revision(session=session, actor=user, entry=entry, data=data))


@router.get("/revisions/{revision_id}", response_model=RevisionPublic)
def get_revision(revision_id: PathId, session: SessionDep, user: ApiUser):
    _, revision = content.get_revision(session=session, actor=user, revision_id=revision_id)
    return revision_public(session, revision)


@router.get("/revisions/{revision_id}/diff", response_model=DiffPublic)
def diff(revision_id: PathId, against: QueryId, session: SessionDep, user: ApiUser):
    """Word-level diff of this revision against another revision of the same entry."""
    return content.diff(session=session, actor=user, revision_id=revision_id, against_id=against)


@router.post("/questions", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def ask(data: QuestionCreate, session: SessionDep, user: ApiUser):
    return entry_public(session, user, forum.ask_question(session=session, actor=user, data=data))


@router.get("/questions", response_model=list[EntryPublic])
def list_questions(session: SessionDep, user: ApiUser, status: Literal["all", "unanswered", "answered"] = "all",
                   tag: str | None = None, order: Literal["newest", "active"] = "newest",
                   limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0):
    page = forum.list_questions(session=session, status=status, tag=tag, order=order, limit=limit, offset=offset)
    return [entry_public(session, user, q) for q in page.questions]


@router.get("/questions/{question_id}/answers", response_model=list[EntryPublic])
def list_answers(question_id: PathId, session: SessionDep, user: ApiUser):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    return [entry_public(session, user, a) for a in forum.answers_to(session=session, question=question)]


@router.post("/questions/{question_id}/answers", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def answer(question_id: PathId, data: AnswerCreate, session: SessionDep, user: ApiUser):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    return entry_public(session, user, forum.answer_question(session=session, actor=user, question=question, data=data))


@router.post("/answers/{answer_id}/accept", response_model=EntryPublic)
def accept(answer_id: PathId, session: SessionDep, user: ApiUser):
    """Accept an answer (the asker, an expert or an admin); returns the question."""
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    return entry_public(session, user, forum.accept_answer(session=session, actor=user, answer=answer_entry))


@router.post("/answers/{answer_id}/promote", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def promote(answer_id: PathId, session: SessionDep, user: ApiUser):
    """Turn an answer into a new article draft that credits the answer's author."""
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    return entry_public(session, user, forum.promote_answer(session=session, actor=user, answer=answer_entry))
