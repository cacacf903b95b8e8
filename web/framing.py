"""Which pages another site may frame: only the helpdesk side panel (``/panel``), and only by the
origins in ``KB_PANEL_ORIGINS``. Every other page says ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``.

Inside a helpdesk's frame kb is a third party: browsers send it no ``SameSite=Lax`` cookies there,
and refuse to store them. The panel's own responses therefore set the session and CSRF cookies as
``SameSite=None; Secure; Partitioned`` (CHIPS): the browser keeps them in a jar of their own for kb
inside that helpdesk, apart from kb's own (see docs/security.md, "The helpdesk side panel").
"""

from __future__ import annotations

PANEL_PATH = "/panel"
# The panel's cookies inside a helpdesk's frame (set only by panel pages, only when it may be framed).
EMBEDDED_COOKIE_FLAGS = "; HttpOnly; SameSite=None; Secure; Partitioned; Path=/"


def is_panel_path(path: str) -> bool:
    return path == PANEL_PATH or path.startswith(PANEL_PATH + "/")


def frame_ancestors(csp: str, origins: tuple[str, ...]) -> str:
    """``csp`` with its ``frame-ancestors`` directive naming ``origins`` instead of 'none'."""
    return csp.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(origins))


def partitioned(response, cookie: str):
    """Mark the response's ``Set-Cookie`` of ``cookie`` as ``Partitioned`` (Python's cookie module
    only learns the attribute in 3.14, so Starlette cannot write it before)."""
    prefix = cookie.encode("latin-1") + b"="
    for index, (name, value) in enumerate(response.raw_headers):
        if name == b"set-cookie" and value.startswith(prefix) and b"partitioned" not in value.lower():
            response.raw_headers[index] = (name, value + b"; Partitioned")
    return response
