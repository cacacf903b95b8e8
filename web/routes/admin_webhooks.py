"""Administration of outgoing webhooks: register an address for events, pause, delete, and the
delivery log of each with "Retry now" (``workflow.webhooks``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from web.deps import AdminPage, SessionDep
from web.forms import submit_form
from web.templating import render
from workflow import webhooks

router = APIRouter(prefix="/admin/webhooks", include_in_schema=False)
Url = Annotated[str, Form(max_length=5000)]  # generous: the service explains the real limit
Events = Annotated[list[str], Form()]
LOG_SIZE = 100


def _list(request, session, actor, *, form=None, errors=None, status_code=200, flashes=None, created=None):
    context = {
        "hooks": webhooks.list_webhooks(session=session, actor=actor),
        "events": webhooks.EVENTS,
        "form": form or {"url": "", "events": list(webhooks.EVENTS)},
        "errors": errors or {},
        "flashes": flashes or [],
        "created": created,
    }
    return render(request, "admin/webhooks.html", context, status_code=status_code)


@router.get("")
def webhooks_page(request: Request, session: SessionDep, actor: AdminPage, deleted: str | None = None):
    flashes = [{"kind": "success", "text": f"Deleted the webhook for {deleted}; nothing more is sent there."}] \
        if deleted else []
    return _list(request, session, actor, flashes=flashes)


@router.post("")
def create_webhook(request: Request, session: SessionDep, actor: AdminPage, url: Url = "", events: Events = []):  # noqa: B006 - FastAPI copies defaults
    form = {"url": url, "events": events}
    # The secret is shown on this answer only (never in an address, never again), so no redirect.
    return submit_form(
        lambda: webhooks.create_webhook(session=session, actor=actor, settings=request.app.state.settings,
                                        url=url, events=events),
        done=lambda hook: _list(request, session, actor, created=hook, status_code=201),
        show_form=lambda errors, status: _list(request, session, actor, form=form, errors=errors,
                                               status_code=status),
        session=session)


def _hook(session, actor, webhook_id: int):
    return webhooks.get_webhook(session=session, actor=actor, webhook_id=webhook_id)


@router.get("/{webhook_id}")
def webhook_log(request: Request, session: SessionDep, actor: AdminPage, webhook_id: int, done: str | None = None):
    hook = _hook(session, actor, webhook_id)
    flashes = {
        "paused": "Paused: new events are not sent here, and waiting deliveries wait until you resume it.",
        "resumed": "Resumed: waiting deliveries go out now.",
        "retried": "Sending again now.",
        "nothing": "There was nothing to send again.",
    }
    context = {
        "hook": hook,
        "deliveries": webhooks.deliveries(session=session, actor=actor, webhook=hook, limit=LOG_SIZE),
        "summary": next(s for s in webhooks.list_webhooks(session=session, actor=actor) if s.webhook.id == hook.id),
        "events": webhooks.EVENTS,
        "log_size": LOG_SIZE,
        "flashes": [{"kind": "success", "text": flashes[done]}] if done in flashes else [],
    }
    return render(request, "admin/webhook_log.html", context)


def _back(webhook_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/webhooks/{webhook_id}?done={done}", status_code=303)


@router.post("/{webhook_id}/pause")
def pause(session: SessionDep, actor: AdminPage, webhook_id: int):
    webhooks.set_active(session=session, actor=actor, webhook=_hook(session, actor, webhook_id), active=False)
    return _back(webhook_id, "paused")


@router.post("/{webhook_id}/resume")
def resume(session: SessionDep, actor: AdminPage, webhook_id: int):
    webhooks.set_active(session=session, actor=actor, webhook=_hook(session, actor, webhook_id), active=True)
    return _back(webhook_id, "resumed")


@router.post("/{webhook_id}/retry")
def retry_failed(session: SessionDep, actor: AdminPage, webhook_id: int):
    scheduled = webhooks.retry(session=session, actor=actor, webhook=_hook(session, actor, webhook_id))
    return _back(webhook_id, "retried" if scheduled else "nothing")


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry")
def retry_delivery(session: SessionDep, actor: AdminPage, webhook_id: int, delivery_id: int):
    webhooks.retry(session=session, actor=actor, webhook=_hook(session, actor, webhook_id), delivery_id=delivery_id)
    return _back(webhook_id, "retried")


@router.post("/{webhook_id}/delete")
def delete(session: SessionDep, actor: AdminPage, webhook_id: int):
    hook = webhooks.delete_webhook(session=session, actor=actor, webhook=_hook(session, actor, webhook_id))
    return RedirectResponse(f"/admin/webhooks?deleted={quote(hook.url)}", status_code=303)
