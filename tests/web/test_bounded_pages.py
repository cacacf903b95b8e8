"""The pages that render or compare a person's text finish in bounded time on pathological text:
the editor preview, the history diff and the conflict page (issue: 30 s and 110 s on main)."""

from __future__ import annotations

import re

from kb.content.diff import TOO_LARGE_NOTICE
from kb.markdown import TOO_MUCH_MARKUP_NOTICE
from tests.helpers import cpu_budget, csrf_from, form_post, login


def _signed_in_author(client, make_user):
    author = make_user("author")
    login(client, author.email)
    return client


def test_preview_of_80_kb_of_headings(client, make_user):
    author = _signed_in_author(client, make_user)
    with cpu_budget(1.0, "POST /preview of '# a' x 20,000"):
        response = form_post(author, "/preview", {"body": "# a\n" * 20_000}, page="/articles/new")
    # More markup than is parsed in bounded time: shown as typed, and said so.
    assert response.status_code == 200 and TOO_MUCH_MARKUP_NOTICE in response.text
    with cpu_budget(2.5, "POST /preview of '# a' x 10,000"):
        response = form_post(author, "/preview", {"body": "# a\n" * 10_000}, page="/articles/new")
    assert response.status_code == 200 and 'id="h-a-9999"' in response.text


def test_history_diff_and_conflict_of_40_kb_revisions(client, make_user):
    author = _signed_in_author(client, make_user)
    location = form_post(author, "/articles", {"title": "Pairs", "body": "a b " * 10_000, "tags": "pairs"},
                         page="/articles/new").headers["location"]
    entry_id = int(location.split("/")[2].split("?")[0])
    edit_page = author.get(f"/entries/{entry_id}/edit").text
    base = re.search(r'name="base_revision_id" value="(\d+)"', edit_page).group(1)
    token = csrf_from(edit_page)

    def save(body):
        return author.post(f"/entries/{entry_id}/revisions", follow_redirects=False, data={
            "title": "Pairs", "body": body, "tags": "pairs", "base_revision_id": base, "csrf_token": token})

    assert save("b a " * 10_000).status_code == 303
    with cpu_budget(5.0, "the conflict page of two 40 kB revisions"):
        conflict = save("a a " * 10_000)
    assert conflict.status_code == 409 and TOO_LARGE_NOTICE in conflict.text
    history = author.get(f"/entries/{entry_id}/history").text
    old, new = sorted(set(re.findall(r'value="(\d+)"', history)), key=int)[:2]
    for mode in ("inline", "side"):
        with cpu_budget(5.0, f"the {mode} diff page of two 40 kB revisions"):
            page = author.get(f"/entries/{entry_id}/diff?old={old}&new={new}&mode={mode}")
        assert page.status_code == 200 and TOO_LARGE_NOTICE in page.text


def test_a_preview_renders_without_holding_the_write_lock(client, make_user, engine, monkeypatch):
    """On SQLite a POST starts with the write lock; a long preview must not keep other people's
    writes (sign-ins, saves) waiting behind it ("database is locked")."""
    from sqlalchemy import text

    import web.routes.editor as editor_routes

    author = _signed_in_author(client, make_user)
    others_could_write = []
    real_render = editor_routes.render_markdown

    def render_while_someone_else_writes(body):
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as other:
            if sqlite:  # fail at once instead of waiting 10 s for the lock
                other.exec_driver_sql("PRAGMA busy_timeout=0")
                other.commit()
            try:
                other.execute(text("UPDATE user_account SET display_name = display_name WHERE id = -1"))
                other.commit()
                others_could_write.append(True)
            except Exception as exc:  # noqa: BLE001 - "database is locked" is the failure we look for
                other.rollback()
                others_could_write.append(str(exc)[:120])
            finally:
                if sqlite:
                    other.exec_driver_sql("PRAGMA busy_timeout=10000")
                    other.commit()
        return real_render(body)

    monkeypatch.setattr(editor_routes, "render_markdown", render_while_someone_else_writes)
    response = form_post(author, "/preview", {"body": "# Title\n\ntext"}, page="/articles/new")
    assert response.status_code == 200
    assert others_could_write == [True]
