"""Jinja2 environment shared by every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from search.analysis import highlight_words
from web.csrf import token_for
from web.forms import form_token
from web.nav import admin_nav_for, current_item, nav_for
from web.pagination import page_numbers

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["csrf_token"] = token_for
templates.env.globals["form_token"] = form_token
templates.env.globals["nav_for"] = nav_for
templates.env.globals["admin_nav_for"] = admin_nav_for
templates.env.globals["current_nav"] = current_item
# The search words a result's page marks (web/static/highlight.js): no stop words.
templates.env.globals["highlight_words"] = highlight_words
templates.env.globals["page_numbers"] = page_numbers


def unread_notifications(request: Request) -> int:
    """The signed-in user's unread count, read from the database by ``optional_user`` for this request."""
    viewer = getattr(request.state, "user", None)
    return getattr(viewer, "unread", 0)


templates.env.globals["unread_notifications"] = unread_notifications


def render(request: Request, name: str, context: dict | None = None, *, status_code: int = 200):
    ctx = {"user": getattr(request.state, "user", None), **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
