"""The editor: writing a new article, editing any entry, live preview, autosave, tag suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from kb.content import access, drafts, removal, submissions
from kb.content import service as content
from kb.content.diff import side_by_side
from kb.content.models import EditorDraft, Entry, EntryKind
from kb.content.schemas import ArticleCreate, RevisionCreate
from kb.errors import Forbidden
from kb.markdown import MAX_BODY_CHARS
from kb.markdown import render as render_markdown
from web.deps import EntryDep, PageUser, SessionDep
from web.forms import submit_form, used_form_token
from web.urls import entry_url, no_store
from web.templating import render
from workflow import review_sheet as review_sheets

router = APIRouter()

Text = Annotated[str, Form()]


def _form(title="", body="", tags="", base_revision_id=None, draft_id=None, draft_seen=None) -> dict:
    # draft_seen: the version of the entry's autosaved draft this page holds (drafts.stamp), so that
    # autosave notices when another tab of the same person changed the draft meanwhile.
    return {"title": title, "body": body, "tags": tags, "base_revision_id": base_revision_id, "draft_id": draft_id,
            "draft_seen": draft_seen}


def _editor(request, *, form, entry=None, kind=EntryKind.article, errors=None, restored=None, conflict=None,
            status_code=200, change_requests=None, removal_offers=(None, False)):
    context = {
        # "Discard this draft" / "Delete this draft" beside Cancel (kb.content.removal.offers).
        "discardable": removal_offers[0], "deletable": removal_offers[1],
        "change_requests": change_requests or [],
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
    return no_store(render(request, "editor.html", context, status_code=status_code))


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
                   tags: Text = "", draft_id: Annotated[int | None, Form()] = None,
                   form_token: Annotated[str, Form(max_length=100)] = ""):
    # The form shown again keeps its token: the corrected post is still the first one.
    form = {**_form(title, body, tags, draft_id=draft_id), "form_token": form_token}

    def create() -> submissions.Submitted:
        token = used_form_token(request, user_id=user.id, token=form_token, purpose="article")
        return submissions.submit_once(session=session, actor=user, token=token, purpose="article", create=lambda: (
            content.create_article(session=session, actor=user, data=ArticleCreate(title=title, body=body, tags=tags))))

    def created(done: submissions.Submitted) -> RedirectResponse:
        if done.replayed:  # Back and Save again: the article the first post created
            return RedirectResponse(f"/articles/{done.entry.id}?again=article", status_code=303)
        if draft_id is not None:
            drafts.discard_if_present(session=session, actor=user, draft_id=draft_id)
        return RedirectResponse(f"/articles/{done.entry.id}?saved=1", status_code=303)

    return submit_form(create, done=created, session=session,
                       show_form=lambda errors, status: _editor(request, form=form, errors=errors, status_code=status))


def _editable(user, entry: Entry) -> Entry:
    if not access.can_edit(user, entry):
        raise Forbidden("You cannot edit this entry.")
    return entry


@router.get("/entries/{entry_id}/edit", include_in_schema=False)
def edit_entry(request: Request, session: SessionDep, user: PageUser, entry: EntryDep):
    entry = _editable(user, entry)
    latest = content.latest_visible_revision(session=session, actor=user, entry=entry)
    # The reviewers' open requests beside the text, so the author edits with them in view.
    requests = [(review, reviewer) for review, reviewer, _ in
                review_sheets.open_change_requests(session=session, actor=user, entry=entry)]
    offers = removal.offers(session=session, actor=user, entry=entry)
    saved: EditorDraft | None = drafts.draft_for(session=session, actor=user, entry=entry)
    if saved is not None:
        form = _form(saved.title, saved.body, saved.tags, saved.base_revision_id or latest.id, saved.id,
                     drafts.stamp(saved))
        return _editor(request, form=form, entry=entry, restored=saved.updated_at, change_requests=requests,
                       removal_offers=offers)
    tags = ", ".join(content.tags_of(session=session, revision_ids=[latest.id])[latest.id])
    return _editor(request, form=_form(latest.title, latest.body, tags, latest.id, draft_seen=drafts.NO_DRAFT),
                   entry=entry, change_requests=requests, removal_offers=offers)


@router.post("/entries/{entry_id}/revisions", include_in_schema=False)
def save_entry(request: Request, session: SessionDep, user: PageUser, entry: EntryDep, title: Text = "",
               body: Text = "", tags: Text = "", base_revision_id: Annotated[int | None, Form()] = None,
               draft_id: Annotated[int | None, Form()] = None):
    entry = _editable(user, entry)
    form = _form(title, body, tags, base_revision_id, draft_id)

    def saved(_) -> RedirectResponse:
        draft = drafts.draft_for(session=session, actor=user, entry=entry)
        if draft is not None:
            drafts.discard(session=session, actor=user, draft=draft)
        return RedirectResponse(entry_url(entry, "saved=1"), status_code=303)

    return submit_form(
        lambda: content.save_revision(session=session, actor=user, entry=entry, data=RevisionCreate(
            title=title, body=body, tags=tags, base_revision_id=base_revision_id)),
        done=saved,
        show_form=lambda errors, status: _editor(request, form=form, entry=entry, errors=errors, status_code=status),
        on_conflict=lambda exc: _conflict(request, session, user, entry=entry, form=form, message=exc.message))


def _conflict(request, session, user, *, entry: Entry, form: dict, message: str):
    """Both versions side by side; the editor now builds on the newest revision this user may see,
    holding the user's text."""
    session.refresh(entry)
    latest = content.latest_visible_revision(session=session, actor=user, entry=entry)
    theirs_tags = ", ".join(content.tags_of(session=session, revision_ids=[latest.id])[latest.id])
    conflict = {
        "message": message,
        "yours": latest.author_id == user.id,
        "latest": latest,
        "theirs_heading": f"Latest saved (revision {latest.number})",
        "theirs_tags": theirs_tags,
        "diff": side_by_side(latest.body, form["body"]),
        "title_diff": side_by_side(latest.title, form["title"]),
    }
    saved = drafts.draft_for(session=session, actor=user, entry=entry)
    merged_form = {**form, "base_revision_id": latest.id, "draft_seen": drafts.stamp(saved)}
    return _editor(request, form=merged_form, entry=entry, conflict=conflict, status_code=409)


@router.post("/entries/{entry_id}/edit/compare", include_in_schema=False)
def compare_with_other_tab(request: Request, session: SessionDep, user: PageUser, entry: EntryDep,
                           title: Text = "", body: Text = "", tags: Text = "",
                           base_revision_id: Annotated[int | None, Form()] = None):
    """The merge view for two tabs of one person: the draft their other tab autosaved beside this
    tab's text, which the editor keeps; its autosave then builds on the other tab's version."""
    entry = _editable(user, entry)
    content.check_body_size(body)
    saved = drafts.draft_for(session=session, actor=user, entry=entry)
    form = _form(title, body, tags, base_revision_id, draft_seen=drafts.stamp(saved))
    if saved is None:  # the other tab saved and its draft is gone: the revision conflict says the rest
        return _editor(request, form=form, entry=entry)
    conflict = {
        "message": drafts.other_tab_message(saved),
        "yours": True,
        "latest": None,
        "theirs_heading": "Your other tab's draft",
        "theirs_tags": saved.tags,
        "diff": side_by_side(saved.body, body),
        "title_diff": side_by_side(saved.title, title),
    }
    return _editor(request, form=form, entry=entry, conflict=conflict, status_code=409)


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
             base_revision_id: Annotated[int | None, Form()] = None,
             draft_seen: Annotated[str | None, Form(max_length=40)] = None):
    entry = content.get_entry(session=session, actor=user, entry_id=entry_id) if entry_id else None
    draft = drafts.autosave(session=session, actor=user, kind=EntryKind(entry.kind if entry else kind),
                            title=title, body=body, tags=tags, draft_id=draft_id, entry=entry,
                            base_revision_id=base_revision_id, seen=draft_seen or None)
    return JSONResponse({"draft_id": draft.id, "saved_at": draft.updated_at.isoformat(),
                         "draft_seen": drafts.stamp(draft)})


@router.get("/tags/suggest", include_in_schema=False, response_class=HTMLResponse)
def suggest_tags(request: Request, session: SessionDep, user: PageUser, tags: str = ""):
    """Options for the tag input's datalist: completes the last, partly typed tag."""
    done, _, partial = tags.rpartition(",")
    prefix = (done + ", ") if done else ""
    names = content.suggest_tags(session=session, actor=user, prefix=partial.strip(), limit=8)
    return render(request, "_tag_options.html", {"names": names, "prefix": prefix})
