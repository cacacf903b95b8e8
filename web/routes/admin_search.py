"""Administration of search: the synonym rules (customers' words -> the knowledge base's words)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from search import synonyms
from web.deps import AdminPage, SessionDep
from web.forms import submit_form
from web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)
# Generous: the service explains the real limits in sentences.
Phrase = Annotated[str, Form(max_length=1000)]
Alternatives = Annotated[str, Form(max_length=5000)]


def _page(request, session, actor, *, form=None, errors=None, status_code=200, flashes=None):
    context = {
        "rules": synonyms.list_rules(session=session, actor=actor),
        "form": form or {"phrase": "", "alternatives": ""},
        "errors": errors or {},
        "flashes": flashes or [],
        "sync_seconds": int(synonyms.SYNC_SECONDS),
        "max_words": synonyms.MAX_WORDS,
    }
    return render(request, "admin/synonyms.html", context, status_code=status_code)


@router.get("/synonyms")
def synonyms_page(request: Request, session: SessionDep, actor: AdminPage, saved: str | None = None,
                  deleted: str | None = None):
    flashes = []
    if saved:
        flashes.append({"kind": "success", "text": f"Saved “{saved}”. Searches use it within {int(synonyms.SYNC_SECONDS)} "
                                                   "seconds."})
    if deleted:
        flashes.append({"kind": "success", "text": f"Deleted “{deleted}”."})
    return _page(request, session, actor, flashes=flashes)


@router.post("/synonyms")
def save_synonym(request: Request, session: SessionDep, actor: AdminPage, phrase: Phrase = "",
                 alternatives: Alternatives = ""):
    form = {"phrase": phrase, "alternatives": alternatives}
    return submit_form(
        lambda: synonyms.save_rule(session=session, actor=actor, phrase=phrase, alternatives=alternatives.split(",")),
        done=lambda rule: RedirectResponse(f"/admin/synonyms?saved={quote(rule.phrase)}", status_code=303),
        show_form=lambda errors, status: _page(request, session, actor, form=form, errors=errors,
                                               status_code=status))


@router.post("/synonyms/{rule_id}/delete")
def delete_synonym(session: SessionDep, actor: AdminPage, rule_id: int):
    rule = synonyms.delete_rule(session=session, actor=actor, rule_id=rule_id)
    return RedirectResponse(f"/admin/synonyms?deleted={quote(rule.phrase)}", status_code=303)
