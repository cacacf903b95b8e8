"""Administration of groups (audiences, ``kb.accounts.groups``): create, rename, members, delete
after a confirmation that says what happens to the entries limited to the group."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from kb.accounts import groups
from kb.accounts import service as accounts
from kb.errors import NotFound
from web.deps import AdminPage, SessionDep
from web.forms import submit_form
from web.templating import render

router = APIRouter(prefix="/admin/groups", include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]  # generous: the service explains the real limits

DONE = {
    "created": "Group created. Add its members below.",
    "saved": "Saved.",
    "added": "Added to the group: they see the entries limited to it now.",
    "removed": "Removed from the group: entries limited to it are hidden from them now.",
}


def _list(request, session, actor, *, form=None, errors=None, status_code=200, flashes=None):
    context = {"summaries": groups.group_summaries(session=session, actor=actor),
               "form": form or {"name": "", "description": ""}, "errors": errors or {}, "flashes": flashes or []}
    return render(request, "admin/groups.html", context, status_code=status_code)


@router.get("")
def groups_page(request: Request, session: SessionDep, actor: AdminPage, deleted: str | None = None):
    flashes = [{"kind": "success", "text": f"Deleted the group “{deleted}”."}] if deleted else []
    return _list(request, session, actor, flashes=flashes)


@router.post("")
def create_group(request: Request, session: SessionDep, actor: AdminPage, name: Text = "", description: Text = ""):
    return submit_form(
        lambda: groups.create_group(session=session, actor=actor, name=name, description=description),
        done=lambda group: RedirectResponse(f"/admin/groups/{group.id}?done=created", status_code=303),
        show_form=lambda errors, status: _list(request, session, actor, form={"name": name, "description": description},
                                               errors=errors, status_code=status),
        session=session)


def _group_page(request, session, actor, group, *, form=None, errors=None, status_code=200, done=None, email=""):
    context = {
        "group": group,
        "members": groups.members(session=session, group=group),
        "entries": len(groups.entries_limited_to(session=session, group=group)),
        "form": form or {"name": group.name, "description": group.description},
        "email": email,
        "errors": errors or {},
        "flashes": [{"kind": "success", "text": DONE[done]}] if done in DONE else [],
    }
    return render(request, "admin/group.html", context, status_code=status_code)


@router.get("/{group_id}")
def group_page(request: Request, session: SessionDep, actor: AdminPage, group_id: int, done: str | None = None):
    return _group_page(request, session, actor, groups.get_group(session=session, group_id=group_id), done=done)


@router.post("/{group_id}")
def update_group(request: Request, session: SessionDep, actor: AdminPage, group_id: int, name: Text = "",
                 description: Text = ""):
    group = groups.get_group(session=session, group_id=group_id)
    return submit_form(
        lambda: groups.update_group(session=session, actor=actor, group=group, name=name, description=description),
        done=lambda _: RedirectResponse(f"/admin/groups/{group_id}?done=saved", status_code=303),
        show_form=lambda errors, status: _group_page(request, session, actor, group, errors=errors, status_code=status,
                                                     form={"name": name, "description": description}),
        session=session)


def _add(session, actor, group, email: str):
    user = accounts.find_user_by_email(session=session, email=email) if email.strip() else None
    if user is None:
        raise NotFound("There is no account with that email address; check it, or create the account first.",
                       field="email")
    groups.add_member(session=session, actor=actor, group=group, user=user)


@router.post("/{group_id}/members")
def add_member(request: Request, session: SessionDep, actor: AdminPage, group_id: int, email: Text = ""):
    group = groups.get_group(session=session, group_id=group_id)
    return submit_form(
        lambda: _add(session, actor, group, email),
        done=lambda _: RedirectResponse(f"/admin/groups/{group_id}?done=added", status_code=303),
        show_form=lambda errors, status: _group_page(request, session, actor, group, errors=errors, status_code=status,
                                                     email=email),
        session=session)


@router.post("/{group_id}/members/{user_id}/remove")
def remove_member(session: SessionDep, actor: AdminPage, group_id: int, user_id: int):
    group = groups.get_group(session=session, group_id=group_id)
    groups.remove_member(session=session, actor=actor, group=group,
                         user=accounts.get_user(session=session, user_id=user_id))
    return RedirectResponse(f"/admin/groups/{group_id}?done=removed", status_code=303)


@router.get("/{group_id}/delete")
def delete_confirm(request: Request, session: SessionDep, actor: AdminPage, group_id: int):
    group = groups.get_group(session=session, group_id=group_id)
    count = len(groups.entries_limited_to(session=session, group=group))
    explanation = (f"{count} {'entry is' if count == 1 else 'entries are'} limited to this group. They stay limited: "
                   "to their other groups, or to nobody but their authors and administrators until someone chooses "
                   "again. Deleting a group never shows anything to more people." if count else
                   "No entry is limited to this group. Its members are not affected otherwise.")
    context = {"heading": f"Delete the group “{group.name}”?", "explanation": explanation, "errors": {},
               "action_url": f"/admin/groups/{group.id}/delete", "button": "Delete the group",
               "button_action": "delete-group", "back_url": f"/admin/groups/{group.id}", "title": group.name}
    return render(request, "confirm_removal.html", context)


@router.post("/{group_id}/delete")
def delete_group(session: SessionDep, actor: AdminPage, group_id: int):
    group = groups.get_group(session=session, group_id=group_id)
    name = group.name
    groups.delete_group(session=session, actor=actor, group=group)
    return RedirectResponse(f"/admin/groups?deleted={quote(name)}", status_code=303)
