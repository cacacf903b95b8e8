"""The editor: writing a new article, editing any entry, live preview, autosave, tag suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError

from kb.content import access, drafts
from kb.content import service as content
from kb.content.diff import side_by_side
from kb.content.models import EditorDraft, Entry, EntryKind
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb.errors import Conflict, DomainError, Forbidden
from kb.markdown import MAX_BODY_CHARS
from kb.markdown import render as render_markdown
from kb.messages import validation_messages
from web.deps import PageUser, SessionDep
from web.routes.content_pages import entry_url
from web.templating import render

router = APIRouter()

Text = Annotated[str, Form()]


def _form(title="", body="", tags="", base_revision_id=None, draft_id=None) -> dict:
    return {"title": title, "body": body, "tags": tags, "base_revision_id": base_revision_id, "draft_id": draft_id}


def _editor(request, *, form, entry=None, kind=EntryKind.article, errors=None, restored=None, conflict=None,
            status_code=200):
    context = {
        "form": form,
        "entry": entry,
        "kind": (EntryKind(entry.kind) if entry else kind).value,
        "action": f"/entries/{entry.id}/revisions" if entry else "/articles",
        "cancel_url": entry_url(entry) if entry else "/articles",
        "errors": errors or {},
        "restored": restored,
        "conflict": conflict,
        "preview": render_markdown(form["body"]) if 0 < len(form["body"]) <= MAX_BODY_CHARS else "",
    }
    return render(request, "editor.html", context, status_code=status_code)


@router.get("/articles/new", include_in_schema=False)
def new_article(request: Request, session: SessionDep, user: PageUser, draft: int | None = None,
                title: str = "", tags: str = ""):
    if not access.can_write_articles(user):
        raise Forbidden("Only authors, experts and admins can write articles.")
    if draft is not None:
        saved = drafts.get_draft(session=session, actor=user, draft_id=draft)
        form = _form(saved.title, saved.body, saved.tags, draft_id=saved.id)
        return _editor(request, form=form, restored=saved.updated_at)
    # ``title``/``tags`` prefill the editor, e.g. from "write an article" on a failed search.
    return _editor(request, form=_form(title=title[:200], tags=tags[:500]))


@router.post("/articles", include_in_schema=False)
def create_article(request: Request, session: SessionDep, user: PageUser, title: Text = "", body: Text = "",
                   tags: Text = "", draft_id: Annotated[int | None, Form()] = None):
    form = _form(title, body, tags, draft_id=draft_id)
    try:
        entry = content.create_article(session=session, actor=user,
                                       data=ArticleCreate(title=title, body=body, tags=tags))
    except ValidationError as exc:
        return _editor(request, form=form, errors=validation_messages(exc.errors()), status_code=422)
    except DomainError as exc:
        return _editor(request, form=form, errors={exc.field or "form": exc.message}, status_code=exc.status_code)
    if draft_id is not None:
        drafts.discard_if_present(session=session, actor=user, draft_id=draft_id)
    return RedirectResponse(f"/articles/{entry.id}?saved=1", status_code=303)


def _editable(session, user, entry_id: int) -> Entry:
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id)
    if not access.can_edit(user, entry):
        raise Forbidden("You cannot edit this entry.")
    return entry


@router.get("/entries/{entry_id}/edit", include_in_schema=False)
def edit_entry(request: Request, session: SessionDep, user: PageUser, entry_id: int):
    entry = _editable(session, user, entry_id)
    latest = content.latest_visible_revision(session=session, actor=user, entry=entry)
    saved: EditorDraft | None = drafts.draft_for(session=session, actor=user, entry=entry)
    if saved is not None:
        form = _form(saved.title, saved.body, saved.tags, saved.base_revision_id or latest.id, saved.id)
        return _editor(request, form=form, entry=entry, restored=saved.updated_at)
    tags = ", ".join(content.tags_of(session=session, revision_ids=[latest.id])[latest.id])
    return _editor(request, form=_form(latest.title, latest.body, tags, latest.id), entry=entry)


@router.post("/entries/{entry_id}/revisions", include_in_schema=False)
def save_entry(request: Request, session: SessionDep, user: PageUser, entry_id: int, title: Text = "",
               body: Text = "", tags: Text = "", base_revision_id: Annotated[int | None, Form()] = None,
               draft_id: Annotated[int | None, Form()] = None):
    entry = _editable(session, user, entry_id)
    form = _form(title, body, tags, base_revision_id, draft_id)
    try:
        data = RevisionCreate(title=title, body=body, tags=tags, base_revision_id=base_revision_id)
        content.save_revision(session=session, actor=user, entry=entry, data=data)
    except ValidationError as exc:
        return _editor(request, form=form, entry=entry, errors=validation_messages(exc.errors()), status_code=422)
    except Conflict as exc:
        return _conflict(request, session, user, entry=entry, form=form, message=exc.message)
    except DomainError as exc:
        return _editor(request, form=form, entry=entry, errors={exc.field or "form": exc.message},
                       status_code=exc.status_code)
    saved = drafts.draft_for(session=session, actor=user, entry=entry)
    if saved is not None:
        drafts.discard(session=session, actor=user, draft=saved)
    return RedirectResponse(entry_url(entry, "saved=1"), status_code=303)


def _conflict(request, session, user, *, entry: Entry, form: dict, message: str):
    """Both versions side by side; the editor now builds on the newest revision this user may see,
    holding the user's text."""
    session.refresh(entry)
    latest = content.latest_visible_revision(session=session, actor=user, entry=entry)
    theirs_tags = ", ".join(content.tags_of(session=session, revision_ids=[latest.id])[latest.id])
    conflict = {
        "message": message,
        "latest": latest,
        "latest_tags": theirs_tags,
        "diff": side_by_side(latest.body, form["body"]),
        "title_diff": side_by_side(latest.title, form["title"]),
    }
    merged_form = {**form, "base_revision_id": latest.id}
    return _editor(request, form=merged_form, entry=entry, conflict=conflict, status_code=409)


@router.post("/preview", include_in_schema=False, response_class=HTMLResponse)
def preview(session: SessionDep, user: PageUser, body: Text = ""):
    content.check_body_size(body)
    # A POST opens a writing transaction (SQLite: the write lock) to load the user; a preview
    # writes nothing, so end it before rendering rather than block every other writer meanwhile.
    session.commit()
    return HTMLResponse(render_markdown(body))


@router.post("/drafts/autosave", include_in_schema=False)
def autosave(session: SessionDep, user: PageUser, kind: Annotated[EntryKind, Form()] = EntryKind.article,
             title: Text = "", body: Text = "",
             tags: Text = "", draft_id: Annotated[int | None, Form()] = None,
             entry_id: Annotated[int | None, Form()] = None,
             base_revision_id: Annotated[int | None, Form()] = None):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id) if entry_id else None
    draft = drafts.autosave(session=session, actor=user, kind=EntryKind(entry.kind if entry else kind),
                            title=title, body=body, tags=tags, draft_id=draft_id, entry=entry,
                            base_revision_id=base_revision_id)
    return JSONResponse({"draft_id": draft.id, "saved_at": draft.updated_at.isoformat()})


@router.get("/tags/suggest", include_in_schema=False, response_class=HTMLResponse)
def suggest_tags(request: Request, session: SessionDep, user: PageUser, tags: str = ""):
    """Options for the tag input's datalist: completes the last, partly typed tag."""
    done, _, partial = tags.rpartition(",")
    prefix = (done + ", ") if done else ""
    names = content.suggest_tags(session=session, actor=user, prefix=partial.strip(), limit=8)
    return render(request, "_tag_options.html", {"names": names, "prefix": prefix})
