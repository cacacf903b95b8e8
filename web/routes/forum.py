"""The internal forum: list, ask, answer, accept, promote."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from kb.content import access, forum
from kb.content import service as content
from kb.content.schemas import AnswerCreate, QuestionCreate
from kb.errors import DomainError
from kb.messages import validation_messages
from web.deps import PageUser, SessionDep
from web.routes.content_pages import entry_view
from web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/questions")
def questions(request: Request, session: SessionDep, user: PageUser,
              status: Literal["all", "unanswered", "answered"] = "all", tag: str | None = None,
              order: Literal["newest", "active"] = "newest", page: Annotated[int, Query(ge=1, le=10_000)] = 1):
    result = forum.list_questions(session=session, status=status, tag=tag or None, order=order, limit=PAGE_SIZE,
                                  offset=(page - 1) * PAGE_SIZE)
    views = [entry_view(session, user, q) for q in result.questions]
    context = {
        "views": views,
        "counts": forum.answer_counts(session=session, question_ids=[q.id for q in result.questions]),
        "total": result.total, "status": status, "tag": tag or "", "order": order, "page": page,
        "pages": max(1, -(-result.total // PAGE_SIZE)),
        "tags": content.suggest_tags(session=session, actor=user, limit=20),
    }
    return render(request, "questions.html", context)


def _ask_page(request, *, form, errors=None, status_code=200):
    return render(request, "ask.html", {"form": form, "errors": errors or {}}, status_code=status_code)


@router.get("/questions/ask")
def ask_form(request: Request, user: PageUser, title: Annotated[str, Query(max_length=200)] = ""):
    # ``title`` prefills the question, e.g. from a search that found nothing.
    return _ask_page(request, form={"title": title, "body": "", "tags": ""})


@router.post("/questions")
def ask(request: Request, session: SessionDep, user: PageUser, title: Annotated[str, Form()] = "",
        body: Annotated[str, Form()] = "", tags: Annotated[str, Form()] = ""):
    form = {"title": title, "body": body, "tags": tags}
    try:
        question = forum.ask_question(session=session, actor=user,
                                      data=QuestionCreate(title=title, body=body, tags=tags))
    except ValidationError as exc:
        return _ask_page(request, form=form, errors=validation_messages(exc.errors()), status_code=422)
    except DomainError as exc:
        return _ask_page(request, form=form, errors={exc.field or "form": exc.message}, status_code=exc.status_code)
    return RedirectResponse(f"/questions/{question.id}", status_code=303)


def _thread(request, session, user, question, *, answer_form="", errors=None, status_code=200, flashes=None):
    answers = forum.answers_to(session=session, question=question)
    context = {
        "question": entry_view(session, user, question, with_actions=True),
        "answers": [entry_view(session, user, a, with_actions=True) for a in answers],
        "can_answer": access.can_answer(user),
        "can_accept": access.can_accept(user, question),
        "can_promote": access.can_write_articles(user),
        "answer_form": answer_form,
        "errors": errors or {},
        "flashes": flashes or [],
    }
    return render(request, "thread.html", context, status_code=status_code)


@router.get("/questions/{question_id}")
def thread(request: Request, session: SessionDep, user: PageUser, question_id: int, saved: bool = False,
           flagged: bool = False):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    flashes = [{"kind": "success", "text": "Saved."}] if saved else []
    if flagged:
        flashes.append({"kind": "success", "text": "Thank you: the topic experts have been told about your flag."})
    return _thread(request, session, user, question, flashes=flashes)


@router.post("/questions/{question_id}/answers")
def answer(request: Request, session: SessionDep, user: PageUser, question_id: int,
           body: Annotated[str, Form()] = ""):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    try:
        created = forum.answer_question(session=session, actor=user, question=question, data=AnswerCreate(body=body))
    except ValidationError as exc:
        return _thread(request, session, user, question, answer_form=body,
                       errors=validation_messages(exc.errors()), status_code=422)
    except DomainError as exc:
        return _thread(request, session, user, question, answer_form=body,
                       errors={exc.field or "form": exc.message}, status_code=exc.status_code)
    return RedirectResponse(f"/questions/{question.id}#answer-{created.id}", status_code=303)


@router.post("/answers/{answer_id}/accept")
def accept(session: SessionDep, user: PageUser, answer_id: int):
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    question = forum.accept_answer(session=session, actor=user, answer=answer_entry)
    return RedirectResponse(f"/questions/{question.id}#answer-{answer_entry.id}", status_code=303)


@router.post("/answers/{answer_id}/promote")
def promote(session: SessionDep, user: PageUser, answer_id: int):
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    article = forum.promote_answer(session=session, actor=user, answer=answer_entry)
    return RedirectResponse(f"/entries/{article.id}/edit", status_code=303)
