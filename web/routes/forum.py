"""The internal forum: list, ask, answer, accept, promote."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertise.sheets import page_sheets
from kb.content import access, forum, submissions
from kb.content import service as content
from kb.content.models import Entry
from kb.content.schemas import AnswerCreate, QuestionCreate
from kb.content.sheets import entry_sheets
from kb.errors import Conflict
from search import similar as forum_similar
from search.factory import backend_for
from web.deps import AnswerDep, PageUser, SessionDep
from web.forms import submit_form, used_form_token
from web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
LAST_PAGE = 10_000  # the last page of questions served


@router.get("/questions")
def questions(request: Request, session: SessionDep, user: PageUser,
              status: Literal["all", "unanswered", "answered"] = "all", tag: str | None = None,
              order: Literal["newest", "active"] = "newest", page: Annotated[int, Query(ge=1, le=LAST_PAGE)] = 1):
    result = forum.list_questions(session=session, status=status, tag=tag or None, order=order, limit=PAGE_SIZE,
                                  offset=(page - 1) * PAGE_SIZE)
    views = entry_sheets(session=session, actor=user, entries=result.questions)
    counts = forum.answer_counts(session=session, question_ids=[q.id for q in result.questions])
    context = {
        "views": views,
        "counts": counts,
        "states": {q.id: forum.forum_state(q, counts[q.id]) for q in result.questions},
        "total": result.total, "status": status, "tag": tag or "", "order": order, "page": page,
        "pages": max(1, -(-result.total // PAGE_SIZE)), "last_page": LAST_PAGE,
        "tags": content.suggest_tags(session=session, actor=user, limit=20),
    }
    return render(request, "questions.html", context)


AGAIN = {
    "question": "This question was already posted: here it is.",
    "answer": "This answer was already posted: here it is.",
}


def _ask_page(request, *, form, errors=None, status_code=200):
    return render(request, "ask.html", {"form": form, "errors": errors or {}}, status_code=status_code)


@router.get("/questions/ask")
def ask_form(request: Request, user: PageUser, title: Annotated[str, Query(max_length=200)] = ""):
    # ``title`` prefills the question, e.g. from a search that found nothing.
    return _ask_page(request, form={"title": title, "body": "", "tags": ""})


@router.get("/questions/similar")
def similar(request: Request, session: SessionDep, user: PageUser, title: Annotated[str, Query(max_length=200)] = ""):
    """What the asker may find already answered, as they type the question (htmx)."""
    found = forum_similar.similar_to(session=session, backend=backend_for(request.app.state.settings), actor=user,
                                     text=title)
    response = render(request, "_similar.html", {"similar": found, "title": title})
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/questions")
def ask(request: Request, session: SessionDep, user: PageUser, title: Annotated[str, Form()] = "",
        body: Annotated[str, Form()] = "", tags: Annotated[str, Form()] = "",
        form_token: Annotated[str, Form(max_length=100)] = ""):
    form = {"title": title, "body": body, "tags": tags}

    def post() -> submissions.Submitted:
        token = used_form_token(request, user_id=user.id, token=form_token, purpose="question")
        return submissions.submit_once(session=session, actor=user, token=token, purpose="question", create=lambda: (
            forum.ask_question(session=session, actor=user, data=QuestionCreate(title=title, body=body, tags=tags))))

    def posted(done: submissions.Submitted) -> RedirectResponse:
        again = "?again=question" if done.replayed else ""
        return RedirectResponse(f"/questions/{done.entry.id}{again}", status_code=303)

    return submit_form(post, done=posted, session=session,
                       show_form=lambda errors, status: _ask_page(request, form=form, errors=errors, status_code=status))


def _thread(request, session, user, question, *, answer_form="", errors=None, status_code=200, flashes=None):
    answers = forum.answers_to(session=session, question=question)
    sheets = page_sheets(session=session, actor=user, with_actions=True, entries=[question, *answers])
    context = {
        "question": sheets[0],
        "answers": sheets[1:],
        "forum_state": forum.forum_state(question, len(answers)),
        "promotions": _promotions(session, user, answers),
        "can_answer": access.can_answer(user),
        "can_accept": access.can_accept(user, question),
        "can_promote": access.can_write_articles(user),
        "answer_form": answer_form,
        "errors": errors or {},
        "flashes": flashes or [],
    }
    return render(request, "thread.html", context, status_code=status_code)


def _promotions(session, user, answers) -> dict[int, dict]:
    """Per answer turned into an article: the article, and its title when this viewer may open it
    (a draft's title is for its authors, reviewers and admins)."""
    articles = forum.promotions_of(session=session, answer_ids=[a.id for a in answers])
    shown = content.visible_revisions(session=session, actor=user, entries=[
        a for a in articles.values() if access.can_view_entry(user, a)])
    return {answer_id: {"article": article, "title": shown[article.id].title if shown.get(article.id) else None}
            for answer_id, article in articles.items()}


@router.get("/questions/{question_id}")
def thread(request: Request, session: SessionDep, user: PageUser, question_id: int, saved: bool = False,
           flagged: bool = False, again: Literal["question", "answer"] | None = None):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    flashes = [{"kind": "success", "text": "Saved."}] if saved else []
    if flagged:
        flashes.append({"kind": "success", "text": "Thank you: the topic experts have been told about your flag."})
    if again:
        flashes.append({"kind": "info", "text": AGAIN[again]})
    return _thread(request, session, user, question, flashes=flashes)


@router.post("/questions/{question_id}/answers")
def answer(request: Request, session: SessionDep, user: PageUser, question_id: int,
           body: Annotated[str, Form()] = "", form_token: Annotated[str, Form(max_length=100)] = ""):
    question = forum.get_question(session=session, actor=user, question_id=question_id)
    purpose = f"answer:{question.id}"

    def post() -> submissions.Submitted:
        token = used_form_token(request, user_id=user.id, token=form_token, purpose=purpose)
        return submissions.submit_once(session=session, actor=user, token=token, purpose=purpose, create=lambda: (
            forum.answer_question(session=session, actor=user, question=question, data=AnswerCreate(body=body))))

    def posted(done: submissions.Submitted) -> RedirectResponse:
        again = "?again=answer" if done.replayed else ""
        return RedirectResponse(f"/questions/{question.id}{again}#answer-{done.entry.id}", status_code=303)

    return submit_form(post, done=posted, session=session, show_form=lambda errors, status: _thread(
        request, session, user, question, answer_form=body, errors=errors, status_code=status))


@router.post("/answers/{answer_id}/accept")
def accept(session: SessionDep, user: PageUser, answer_entry: AnswerDep):
    question = forum.accept_answer(session=session, actor=user, answer=answer_entry)
    return RedirectResponse(f"/questions/{question.id}#answer-{answer_entry.id}", status_code=303)


@router.post("/answers/{answer_id}/promote")
def promote(request: Request, session: SessionDep, user: PageUser, answer_id: int,
            form_token: Annotated[str, Form(max_length=100)] = ""):
    answer_entry = forum.get_answer(session=session, actor=user, answer_id=answer_id)
    purpose = f"promote:{answer_entry.id}"

    def post() -> submissions.Submitted:
        token = used_form_token(request, user_id=user.id, token=form_token, purpose=purpose)
        return submissions.submit_once(session=session, actor=user, token=token, purpose=purpose, create=lambda: (
            forum.promote_answer(session=session, actor=user, answer=answer_entry)))

    def promoted(done: submissions.Submitted) -> RedirectResponse:
        target = f"/articles/{done.entry.id}?again=promotion" if done.replayed else f"/entries/{done.entry.id}/edit"
        return RedirectResponse(target, status_code=303)

    def already(exc: Conflict) -> Response:
        """Turned into an article before (another tab, someone else): that article, when this
        user may open it; otherwise the thread, saying so."""
        article_id = exc.details.get("article_id")
        article = session.get(Entry, article_id) if article_id else None
        if article is not None and access.can_view_entry(user, article):
            return RedirectResponse(f"/articles/{article.id}?again=promotion", status_code=303)
        return thread_with_error({"form": exc.message}, exc.status_code)

    def thread_with_error(errors, status):
        question = forum.get_question(session=session, actor=user, question_id=answer_entry.parent_id)
        return _thread(request, session, user, question, errors=errors, status_code=status)

    return submit_form(post, done=promoted, session=session, show_form=thread_with_error, on_conflict=already)
