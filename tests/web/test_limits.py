"""Request bodies: a limit on every route, counted while streaming; API callers authenticated
before their body is read."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from web.limits import MAX_REQUEST_BYTES, TOO_LARGE

MB = 1024 * 1024
CHUNK = 64 * 1024


def call(app, method: str, path: str, *, size: int, headers: dict[str, str] | None = None,
         declare_length: bool = False, prefix: bytes = b'{"title": "'):
    """Send ``size`` bytes to the ASGI app chunk by chunk, as a server would, and return
    (status, headers, body, bytes the app asked for). Nothing is generated that is not pulled."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if declare_length:
        raw_headers.append((b"content-length", str(size).encode()))
    else:
        raw_headers.append((b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *raw_headers], "client": ("127.0.0.1", 1234),
             "server": ("testserver", 80)}
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if pulled >= size:
            await asyncio.sleep(3600)  # a client that sends nothing more
        chunk = (prefix if pulled == 0 else b"") + b"a" * CHUNK
        chunk = chunk[: size - pulled]
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < size}

    async def send(message):
        sent.append(message)

    # In a thread of its own: a test process that also ran browser tests has Playwright's event loop
    # running in its main thread, where asyncio.run() refuses to start another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, asyncio.wait_for(app(scope, receive, send), 60)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers_out = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers_out, body, pulled


JSON = {"Content-Type": "application/json"}


def test_anonymous_api_bodies_are_refused_before_reading(app):
    # On main a 300 MB anonymous JSON body was read and parsed before the 401 (RSS 250 MB -> 1 GB).
    status, _, body, pulled = call(app, "POST", "/api/v1/articles", size=300 * MB, headers=JSON)
    assert status == 401 and "API token" in json.loads(body)["detail"]
    assert pulled == 0
    status, _, body, pulled = call(app, "POST", "/api/v1/articles", size=2 * MB, headers=JSON, declare_length=True)
    assert status == 401 and pulled == 0
    # A declared length over the limit is refused first, without a database look-up.
    status, _, body, pulled = call(app, "POST", "/api/v1/articles", size=300 * MB, headers=JSON, declare_length=True)
    assert status == 413 and json.loads(body)["detail"] == TOO_LARGE and pulled == 0


def test_an_unknown_token_is_refused_before_reading(app):
    status, headers, body, pulled = call(app, "POST", "/api/v1/articles", size=300 * MB,
                                         headers={**JSON, "Authorization": "Bearer not-a-token"})
    assert status == 401 and "not valid" in json.loads(body)["detail"] and pulled == 0
    assert headers["www-authenticate"] == "Bearer"


def test_api_bodies_over_the_limit_get_413_while_streaming(app, make_user, bearer):
    headers = {**JSON, **bearer(make_user("author"))}
    status, _, body, pulled = call(app, "POST", "/api/v1/articles", size=300 * MB, headers=headers)
    assert status == 413 and json.loads(body)["detail"] == TOO_LARGE
    assert pulled <= MAX_REQUEST_BYTES + CHUNK + 16
    status, _, body, pulled = call(app, "POST", "/api/v1/articles", size=300 * MB, headers=headers,
                                   declare_length=True)
    assert status == 413 and json.loads(body)["detail"] == TOO_LARGE and pulled == 0


@pytest.mark.parametrize("path", ["/login", "/drafts/autosave", "/articles"])
def test_page_bodies_over_the_limit_get_a_413_page(app, path):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    status, out, body, pulled = call(app, "POST", path, size=50 * MB, headers=headers, prefix=b"email=")
    assert status == 413 and out["content-type"].startswith("text/html")
    assert "The request is too large" in body.decode()
    assert pulled <= MAX_REQUEST_BYTES + CHUNK + 16


def test_json_asking_scripts_get_json_413(app):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
               "X-CSRF-Token": "x"}
    status, _, body, _ = call(app, "POST", "/drafts/autosave", size=50 * MB, headers=headers, declare_length=True)
    assert status == 413 and json.loads(body)["detail"] == TOO_LARGE


def test_a_full_size_article_still_fits(client, make_user, bearer):
    from kb.markdown import MAX_BODY_CHARS

    body = "é" * MAX_BODY_CHARS  # escaped by JSON as \\u00e9: 6 bytes a character
    response = client.post("/api/v1/articles", json={"title": "Long", "body": body, "tags": []},
                           headers=bearer(make_user("author")))
    assert response.status_code == 201
