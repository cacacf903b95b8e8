"""The inbox: the signed-in user's notifications and how they want them emailed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from web.deps import PageUser, SessionDep, SettingsDep
from web.templating import render
from workflow import inbox as service
from workflow.models import NotificationMode

router = APIRouter(prefix="/inbox", include_in_schema=False)

MODES = (
    (NotificationMode.immediate, "Immediately", "one email per notification, as things happen"),
    (NotificationMode.daily, "Daily digest", "at most one email a day listing what you have not read"),
    (NotificationMode.off, "Off", "no email; notifications only appear here"),
)
DONE = {"read": "All notifications are marked as read.", "preferences": "Your email preference was saved."}


def _local(link: str) -> str:
    """Only redirect within kb: a stored link is never allowed to send people elsewhere."""
    return link if link.startswith("/") and not link.startswith(("//", "/\\")) else "/inbox"


@router.get("")
def inbox_page(request: Request, session: SessionDep, settings: SettingsDep, user: PageUser,
               done: str | None = None, show: str = "all"):
    unread_only = show == "unread"
    context = {
        "notifications": service.inbox(session=session, actor=user, unread_only=unread_only, limit=100),
        "unread_only": unread_only,
        "mode": service.get_preference(session=session, actor=user),
        "modes": MODES,
        "email_configured": bool(settings.smtp_url),
        "flashes": [{"kind": "success", "text": DONE[done]}] if done in DONE else [],
    }
    return render(request, "inbox.html", context)


@router.post("/read-all")
def read_all(session: SessionDep, user: PageUser):
    service.mark_all_read(session=session, actor=user)
    return RedirectResponse("/inbox?done=read", status_code=303)


@router.post("/preferences")
def save_preferences(session: SessionDep, user: PageUser, mode: Annotated[NotificationMode, Form()]):
    service.set_preference(session=session, actor=user, mode=mode)
    return RedirectResponse("/inbox?done=preferences", status_code=303)


@router.post("/{notification_id}/read")
def open_notification(session: SessionDep, user: PageUser, notification_id: int):
    """Opening an unread notification marks it read, then goes where it points."""
    notification = service.mark_read(session=session, actor=user, notification_id=notification_id)
    return RedirectResponse(_local(notification.link), status_code=303)
