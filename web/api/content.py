"""JSON API for content: articles, entries, revisions, diffs, questions and answers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from sqlmodel import Session

from kb.accounts.models import User
from kb.content import audiences, forum, removal, sheets
from kb.content import service as content
from kb.content.models import Entry, Revision
from kb.content.schemas import (
    AnswerCreate,
    ArticleCreate,
    AudienceUpdate,
    DiffPublic,
    EntryPublic,
    QuestionCreate,
    RevisionCreate,
    RevisionPublic,
)
from web.api.params import PathId, QueryId
from web.errors import error_doc
from web.deps import ApiAnswerDep, ApiEntryDep, ApiQuestionDep, ApiRevisionDep, ApiUser, SessionDep

router = APIRouter(tags=["content"])
CONFLICT = {409: error_doc("The base revision is not the latest; the body names the latest revision.")}


def revision_public(*, session: Session, revision: Revision) -> RevisionPublic:
    return sheets.revisions_public(session=session, revisions=[revision])[0]


def entry_public(*, session: Session, actor: User, entry: Entry) -> EntryPublic:
    return entries_public(session=session, actor=actor, entries=[entry])[0]


def entries_public(*, session: Session, actor: User, entries: list[Entry]) -> list[EntryPublic]:
    names = audiences.audience_names(session=session, entries=entries)
    views = [s.public() for s in sheets.entry_sheets(session=session, actor=actor, entries=entries)]
    for view in views:
        view.audience = names.get(view.id, [])
    return views


@router.post("/articles", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def create_article(data: ArticleCreate, session: SessionDep, user: ApiUser):
    """Create an article; its first revision is a draft. ``audience`` limits it to groups at once."""
    entry = content.create_article(session=session, actor=user, data=data)
    if data.audience:
        audiences.set_audience_by_names(session=session, actor=user, entry=entry, names=data.audience)
    return entry_public(session=session, actor=user, entry=entry)


@router.put("/entries/{entry_id}/audience", response_model=EntryPublic)
def set_audience(entry: ApiEntryDep, data: AudienceUpdate, session: SessionDep, user: ApiUser):
    """Limit an article to groups (by name), or open it to everyone signed in (``[]``). Its authors and
    administrators only; applied to every revision at once, without review, and recorded in its audit trail."""
    audiences.set_audience_by_names(session=session, actor=user, entry=entry, names=data.groups, public=data.public)
    return entry_public(session=session, actor=user, entry=entry)


@router.get("/entries/{entry_id}", response_model=EntryPublic)
def get_entry(entry: ApiEntryDep, session: SessionDep, user: ApiUser):
    return entry_public(session=session, actor=user, entry=entry)


@router.get("/entries/{entry_id}/revisions", response_model=list[RevisionPublic])
def list_revisions(entry: ApiEntryDep, session: SessionDep, user: ApiUser):
    return sheets.revisions_public(session=session,
                                   revisions=content.list_revisions(session=session, actor=user, entry=entry))


@router.post("/entries/{entry_id}/revisions", response_model=RevisionPublic, status_code=status.HTTP_201_CREATED,
             responses=CONFLICT)
def create_revision(entry: ApiEntryDep, data: RevisionCreate, session: SessionDep, user: ApiUser):
    """Save a new revision edited from ``base_revision_id``; 409 if that is no longer the latest."""
    return revision_public(session=session, revision=content.save_revision(session=session, actor=user, entry=entry, data=data))


REMOVAL_REFUSALS = {
    403: error_doc("Only the draft's authors or an administrator may do this."),
    404: error_doc("The entry or revision does not exist, or you cannot see it."),
    409: error_doc("Not possible in its state (e.g. certified, in review, the first version)."),
}


@router.delete("/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=REMOVAL_REFUSALS)
def delete_draft_entry(entry: ApiEntryDep, session: SessionDep, user: ApiUser):
    """Delete a draft article that was never certified: nobody sees it any more, anywhere (the audit
    trail keeps a note). A certified article is archived instead."""
    removal.delete_draft_entry(session=session, actor=user, entry=entry)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/revisions/{revision_id}/discard", response_model=EntryPublic, responses=REMOVAL_REFUSALS)
def discard_draft(target: ApiRevisionDep, session: SessionDep, user: ApiUser):
    """Discard a draft revision (never submitted, withdrawn, or with changes requested): the entry goes
    back to its previous revision. Returns the entry as it is now."""
    entry, revision = target
    removal.discard_draft(session=session, actor=user, entry=entry, revision=revision)
    return entry_public(session=session, actor=user, entry=entry)


@router.get("/revisions/{revision_id}", response_model=RevisionPublic)
def get_revision(target: ApiRevisionDep, session: SessionDep):
    _, revision = target
    return revision_public(session=session, revision=revision)


@router.get("/revisions/{revision_id}/diff", response_model=DiffPublic)
def diff(revision_id: PathId, against: QueryId, session: SessionDep, user: ApiUser):
    """Word-level diff of this revision against another revision of the same entry."""
    return content.diff(session=session, actor=user, revision_id=revision_id, against_id=against)


@router.post("/questions", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def ask(data: QuestionCreate, session: SessionDep, user: ApiUser):
    return entry_public(session=session, actor=user, entry=forum.ask_question(session=session, actor=user, data=data))


@router.get("/questions", response_model=list[EntryPublic])
def list_questions(session: SessionDep, user: ApiUser, status: Literal["all", "unanswered", "answered"] = "all",
                   tag: str | None = None, order: Literal["newest", "active"] = "newest",
                   limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0):
    page = forum.list_questions(session=session, status=status, tag=tag, order=order, limit=limit, offset=offset)
    return entries_public(session=session, actor=user, entries=page.questions)


@router.get("/questions/{question_id}/answers", response_model=list[EntryPublic])
def list_answers(question: ApiQuestionDep, session: SessionDep, user: ApiUser):
    return entries_public(session=session, actor=user, entries=forum.answers_to(session=session, question=question))


@router.post("/questions/{question_id}/answers", response_model=EntryPublic, status_code=status.HTTP_201_CREATED)
def answer(question: ApiQuestionDep, data: AnswerCreate, session: SessionDep, user: ApiUser):
    return entry_public(session=session, actor=user, entry=forum.answer_question(session=session, actor=user, question=question, data=data))


@router.post("/answers/{answer_id}/accept", response_model=EntryPublic)
def accept(answer_entry: ApiAnswerDep, session: SessionDep, user: ApiUser):
    """Accept an answer (the asker, an expert or an admin); returns the question."""
    return entry_public(session=session, actor=user, entry=forum.accept_answer(session=session, actor=user, answer=answer_entry))


@router.post("/answers/{answer_id}/promote", response_model=EntryPublic, status_code=status.HTTP_201_CREATED,
             responses={409: error_doc("This answer was already turned into an article.")})
def promote(answer_id: PathId, session: SessionDep, user: ApiUser):
    """Turn an answer into a new article draft. The answer's author is its author (credit, rights);
    the caller is its co-author. An answer is turned into an article once."""
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    return entry_public(session=session, actor=user, entry=forum.promote_answer(session=session, actor=user, answer=answer_entry))
