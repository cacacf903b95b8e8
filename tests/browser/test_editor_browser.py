"""The article editor in a real Chromium: preview, pasted images, autosave, edit conflicts, XSS.

Runs on every ``engine`` backend (SQLite, and PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import base64
import contextlib
import re
import struct
import zlib

import pytest
from playwright.sync_api import expect

from kb.content import service as content
from kb.content.schemas import ArticleCreate
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

AUTOSAVED = re.compile(r"Draft autosaved at ")


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _png(width: int = 6, height: int = 4, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real, valid PNG (solid colour), built without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


def _article(db, author, *, title: str, body: str, tags: str = "billing"):
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body, tags=tags))
    db.commit()
    return entry


def _watch(page, expected: tuple[tuple[str, int], ...] = ()) -> list[str]:
    """Errors of an extra page (the ``page`` fixture watches only its own): JS errors, failed subresources
    (but the ``expected`` answers: (path ending, status), e.g. an autosave refused on purpose)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_response(response):
        if any(response.url.endswith(end) and response.status == status for end, status in expected):
            return
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.request.resource_type} {response.url} answered {response.status}")

    page.on("response", on_response)
    page.on("console", lambda m: problems.append(f"console error: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    return problems


@contextlib.contextmanager
def _autosaved(page, text: str):
    """Around typing: afterwards, wait until an autosave holding ``text`` was answered, and the page says so.

    (Just waiting for "Draft autosaved" is not enough: an autosave can run halfway through the typing.)
    """

    def carries_text(response) -> bool:
        sent = (response.request.post_data or "").replace("\r\n", "\n")  # multipart sends CRLF
        return response.url.endswith("/drafts/autosave") and text in sent

    with page.expect_response(carries_text) as reply:
        yield
    assert reply.value.ok, reply.value.status
    expect(page.locator("#autosave-status")).to_contain_text(AUTOSAVED)


def _wait_for_preview_of(page, *snippets: str) -> None:
    """The live preview (htmx, 400 ms after typing) shows the current text and no request is pending."""
    page.wait_for_function(
        """(snippets) => {
            const preview = document.getElementById("preview");
            const body = document.getElementById("body");
            return !body.classList.contains("htmx-request")
                && snippets.every((s) => preview.textContent.includes(s));
        }""",
        arg=list(snippets),
    )


# --- 1. writing an article with a table, code and a pasted image ---------------------------------

BODY = """Refunds after **30 days** need a manager.

| Plan | Refund window |
| --- | --- |
| Basic | 14 days |
| Plus | 30 days |

```python
def refund(order):
    return order.total
```

The receipt looks like this:
"""

PASTE_IMAGE = """([b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: "image/png" }));
    const event = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
    const carried = event.clipboardData ? event.clipboardData.files.length : -1;
    document.getElementById("body").dispatchEvent(event);
    return { carried, handled: event.defaultPrevented };
}"""


def test_article_with_table_code_and_pasted_image_saves_exactly_as_previewed(page, live_server, login_as,
                                                                                make_user):
    author = make_user("author", name="Ada Author")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/articles/new")
    expect(page.locator("h1")).to_have_text("New article")

    page.fill("#title", "Refunds for late parcels")
    page.fill("#tags", "billing, refunds")
    page.fill("#body", BODY)
    page.locator("#body").press("Control+End")  # the image goes where the caret is: at the end

    # Chromium keeps the DataTransfer given to a synthetic ClipboardEvent, so this is a real paste
    # event as editor.js sees it (clipboardData.files holds the PNG).
    pasted = page.evaluate(PASTE_IMAGE, [base64.b64encode(_png()).decode(), "receipt.png"])
    assert pasted == {"carried": 1, "handled": True}, pasted

    markdown_image = re.compile(r"!\[receipt\.png\]\(/attachments/(\d+)/receipt\.png\)")
    expect(page.locator("#body")).to_have_value(re.compile(r"The receipt looks like this:\n+" + markdown_image.pattern))
    attachment_id = markdown_image.search(page.locator("#body").input_value()).group(1)

    page.wait_for_function(
        """(src) => {
            const preview = document.getElementById("preview");
            const img = preview.querySelector("img");
            return preview.querySelector("table td") && preview.querySelector("pre code")
                && img && img.getAttribute("src") === src && img.complete && img.naturalWidth > 0
                && !document.getElementById("body").classList.contains("htmx-request");
        }""",
        arg=f"/attachments/{attachment_id}/receipt.png",
    )
    preview = page.locator("#preview")
    expect(preview.locator("table tbody tr")).to_have_count(2)
    expect(preview.locator("table")).to_contain_text("30 days")
    expect(preview.locator("pre code")).to_contain_text("def refund(order):")
    expect(preview.locator("img")).to_have_attribute("alt", "receipt.png")
    assert page.locator("#preview img").evaluate("img => img.naturalWidth") == 6
    preview_html = preview.inner_html()

    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert re.fullmatch(r"/articles/\d+\?saved=1", _path(page.url)), page.url
    expect(page.locator(".flash.flash-success")).to_have_text("Saved as a new revision.")
    expect(page.locator("h1")).to_have_text("Refunds for late parcels")
    expect(page.locator(".meta .tag")).to_have_text(["billing", "refunds"])
    saved = page.locator(".prose#content")
    assert saved.inner_html() == preview_html  # the preview and the page use the same renderer
    page.wait_for_function("() => { const i = document.querySelector('#content img');"
                           " return i && i.complete && i.naturalWidth === 6; }")


# --- 2. autosave and restoring unsaved changes ---------------------------------------------------


def test_unsaved_edit_of_an_article_is_restored_after_a_reload(page, live_server, login_as, make_user, db):
    author = make_user("author")
    entry = _article(db, author, title="Opening hours", body="We open at nine.")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/entries/{entry.id}/edit")
    expect(page.locator("#body")).to_have_value("We open at nine.")
    expect(page.get_by_text("Restored your unsaved changes")).to_have_count(0)

    with _autosaved(page, "We open at nine. On Saturdays we open at ten."):
        page.locator("#body").click()
        page.keyboard.press("Control+End")
        page.keyboard.type(" On Saturdays we open at ten.")

    dialogs = []

    def leave(dialog):  # the unsaved-changes warning: choose to leave the page
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.reload()
    assert set(dialogs) <= {"beforeunload"}, dialogs
    expect(page.locator(".flash.flash-info")).to_contain_text("Restored your unsaved changes")
    expect(page.locator("#body")).to_have_value("We open at nine. On Saturdays we open at ten.")
    expect(page.locator("#title")).to_have_value("Opening hours")
    _wait_for_preview_of(page, "On Saturdays we open at ten.")


def test_autosaved_new_article_is_listed_under_unsaved_drafts_and_comes_back(page, live_server, login_as,
                                                                               make_user):
    author = make_user("author")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/articles/new")
    with _autosaved(page, "Gift cards never expire.\n\n- They can be topped up."):
        page.fill("#title", "Gift cards")
        page.fill("#tags", "payments")
        page.fill("#body", "Gift cards never expire.\n\n- They can be topped up.")

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/articles")
    drafts = page.locator("section", has=page.get_by_role("heading", name="Unsaved drafts"))
    link = drafts.get_by_role("link", name="Gift cards")
    expect(link).to_have_count(1)
    with page.expect_navigation():
        link.click()
    assert re.fullmatch(r"/articles/new\?draft=\d+", _path(page.url)), page.url
    expect(page.locator(".flash.flash-info")).to_contain_text("Restored your unsaved changes")
    expect(page.locator("#title")).to_have_value("Gift cards")
    expect(page.locator("#tags")).to_have_value("payments")
    expect(page.locator("#body")).to_have_value("Gift cards never expire.\n\n- They can be topped up.")
    expect(page.locator("#preview li")).to_have_text("They can be topped up.")

    # Saving it turns the draft into an article, and the draft is gone from the list.
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Gift cards")
    page.goto(f"{live_server}/articles")
    expect(page.get_by_role("heading", name="Unsaved drafts")).to_have_count(0)
    expect(page.locator("table.list").get_by_role("link", name="Gift cards")).to_have_count(1)


def test_save_clicked_while_an_autosave_runs_waits_for_it_and_leaves_no_stray_draft(page, live_server, login_as,
                                                                                     make_user):
    author = make_user("author")
    login_as(page, live_server, author.email, PASSWORD)
    held = []

    def hold_reply(route):  # the server autosaves now; the page hears of it only when released
        held.append((route, route.fetch()))

    page.route("**/drafts/autosave", hold_reply)
    page.goto(f"{live_server}/articles/new")
    with page.expect_request("**/drafts/autosave"):
        page.fill("#title", "Store credit")
        page.fill("#body", "Store credit never expires.")
    expect(page.locator("#autosave-status")).to_have_text("Saving draft…")
    page.get_by_role("button", name="Save").click()
    for _ in range(200):  # the handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(25)
    assert len(held) == 1
    assert _path(page.url) == "/articles/new"  # the save waits for the autosave still running
    route, reply = held[0]
    with page.expect_navigation():
        route.fulfill(response=reply)
    assert re.fullmatch(r"/articles/\d+\?saved=1", _path(page.url)), page.url
    expect(page.locator("h1")).to_have_text("Store credit")
    page.goto(f"{live_server}/articles")
    expect(page.locator("table.list").get_by_role("link", name="Store credit")).to_have_count(1)
    expect(page.get_by_role("heading", name="Unsaved drafts")).to_have_count(0)  # the save discarded it


# --- 3. two tabs edit the same article -------------------------------------------------------------

ORIGINAL = "Parcels are insured up to 500 EUR."
TAB1_TEXT = "Parcels are insured up to 500 EUR.\n\nTab one: claims need a photo of the box."
TAB2_TEXT = "Parcels are insured up to 500 EUR.\n\nTab two: claims must be filed within 14 days."
MERGED = ("Parcels are insured up to 500 EUR.\n\nTab one: claims need a photo of the box.\n\n"
          "Tab two: claims must be filed within 14 days.")


def test_second_tab_gets_a_merge_view_and_both_versions_stay_in_history(page, live_server, login_as, make_user, db):
    author = make_user("author")
    entry = _article(db, author, title="Parcel insurance", body=ORIGINAL)
    login_as(page, live_server, author.email, PASSWORD)
    edit_url = f"{live_server}/entries/{entry.id}/edit"
    # Tab 2's autosave is refused (409) once tab 1 changed the draft they share (issue 14, item 10).
    tab2 = page.context.new_page()
    tab2_problems = _watch(tab2, expected=(("/drafts/autosave", 409),))
    tab1 = page.context.new_page()
    tab1_problems = _watch(tab1)
    for tab in (tab1, tab2):
        tab.on("dialog", lambda dialog: dialog.accept())
        tab.bring_to_front()  # as a person switching tabs; a background tab gets no animation frames
        tab.goto(edit_url)
        expect(tab.locator("#body")).to_have_value(ORIGINAL)

    # Both type, and both wait long enough for their draft to be autosaved, as people do: the
    # second is told that the draft changed in the other tab, not overwritten silently.
    tab1.bring_to_front()
    with _autosaved(tab1, TAB1_TEXT):
        tab1.fill("#body", TAB1_TEXT)
    tab2.bring_to_front()
    tab2.fill("#body", TAB2_TEXT)
    error = tab2.locator("#editor-error")
    expect(error).to_contain_text(re.compile(r"You changed this draft in another tab or window at \d\d:\d\d"))
    expect(error.get_by_role("button", name="Compare and merge")).to_be_visible()

    tab1.bring_to_front()
    with tab1.expect_navigation():
        tab1.get_by_role("button", name="Save").click()
    assert _path(tab1.url) == f"/articles/{entry.id}?saved=1"
    expect(tab1.locator(".prose#content")).to_contain_text("Tab one: claims need a photo of the box.")

    tab2.bring_to_front()
    with tab2.expect_navigation() as navigation:
        tab2.get_by_role("button", name="Save").click()
    assert navigation.value.status == 409
    assert _path(tab2.url) == f"/entries/{entry.id}/revisions"
    conflict = tab2.locator("#conflict")
    expect(conflict.get_by_role("heading", name="You changed this in another tab or window")).to_be_visible()
    sides = conflict.locator(".diff-side > div")
    expect(sides).to_have_count(2)
    latest, yours = sides.nth(0), sides.nth(1)
    expect(latest.locator("h3")).to_have_text("Latest saved (revision 2)")
    expect(latest.locator(".diff-body")).to_contain_text("Tab one: claims need a photo of the box.")
    expect(yours.locator(".diff-body")).to_contain_text("Tab two: claims must be filed within 14 days.")
    expect(latest.locator("del")).to_contain_text(["one"])
    expect(yours.locator("ins")).to_contain_text(["two"])
    expect(tab2.locator("#body")).to_have_value(TAB2_TEXT)

    # The merged text is autosaved too, although the draft both tabs shared was discarded by tab 1's save.
    with _autosaved(tab2, MERGED):
        tab2.fill("#body", MERGED)
    with tab2.expect_navigation() as navigation:
        tab2.get_by_role("button", name="Save").click()
    assert navigation.value.status == 200
    assert _path(tab2.url) == f"/articles/{entry.id}?saved=1"
    expect(tab2.locator(".flash.flash-success")).to_have_text("Saved as a new revision.")
    expect(tab2.locator(".prose#content")).to_contain_text("Tab one: claims need a photo of the box.")
    expect(tab2.locator(".prose#content")).to_contain_text("Tab two: claims must be filed within 14 days.")

    tab2.get_by_role("link", name="History").click()
    expect(tab2.locator("h1")).to_have_text("History: Parcel insurance")
    revision_links = tab2.locator("table.list tbody tr td:nth-child(3) a")
    expect(revision_links).to_have_text(["3", "2", "1"])
    revision_links.filter(has_text=re.compile(r"^2$")).click()
    expect(tab2.locator(".flash.flash-info")).to_contain_text("You are looking at revision 2, which is not the latest")
    expect(tab2.locator(".prose")).to_contain_text("Tab one: claims need a photo of the box.")
    expect(tab2.locator(".prose")).not_to_contain_text("Tab two")

    # Nothing is left to restore: the edit page starts from revision 3, without a notice.
    tab2.goto(edit_url)
    expect(tab2.locator("#body")).to_have_value(MERGED)
    expect(tab2.get_by_text("Restored your unsaved changes")).to_have_count(0)
    tab1.close()
    assert not tab1_problems, "tab 1 had errors:\n" + "\n".join(tab1_problems)
    assert not tab2_problems, "tab 2 had errors:\n" + "\n".join(tab2_problems)


# --- 5. Markdown cannot run script in the page -----------------------------------------------------

XSS_BODY = """Click [x](javascript:alert(1)) for details.

<script>alert(1)</script>

<img src=x onerror=alert(1)>

<svg onload=alert(1)>

[also](  JaVaScRiPt:alert(1)) and ![pic](javascript:alert(1))
"""


def test_markdown_with_script_attempts_is_shown_inert(page, live_server, login_as, make_user):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    author = make_user("author")
    login_as(page, live_server, author.email, PASSWORD)
    page.goto(f"{live_server}/articles/new")
    page.fill("#title", "Links and markup")
    page.fill("#body", XSS_BODY)
    _wait_for_preview_of(page, "<svg onload=alert(1)>")  # the live preview shows it as text, too
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Links and markup")

    prose = page.locator(".prose#content")
    expect(prose).to_contain_text("<script>alert(1)</script>")  # visible as text
    expect(prose).to_contain_text("<img src=x onerror=alert(1)>")
    expect(prose).to_contain_text("<svg onload=alert(1)>")
    for selector in ("script", "svg", "iframe", "object", "embed", "img[onerror]", "[onload]", "[onerror]"):
        expect(prose.locator(selector)).to_have_count(0)
    expect(prose.locator("a[href^='javascript' i]")).to_have_count(0)
    expect(prose.locator("img[src^='javascript' i]")).to_have_count(0)
    protocols = prose.evaluate("el => [...el.querySelectorAll('a[href], img[src]')].map(n => new URL("
                               "n.href || n.src, location.href).protocol)")
    assert "javascript:" not in protocols, protocols
    handlers = prose.evaluate(
        "el => [...el.querySelectorAll('*')].flatMap(n => [...n.attributes].map(a => a.name))"
        ".filter(name => name.startsWith('on'))"
    )
    assert handlers == []
    page.reload()  # once more, after load: still nothing ran
    expect(prose).to_contain_text("<script>alert(1)</script>")
    assert dialogs == []


# --- column alignment in tables (classes, since the CSP forbids inline styles) ----------------------


def test_aligned_table_columns_render_under_the_csp(browser, live_server, login_as, make_user, db):
    # Its own context, to collect CSP violations explicitly.
    author = make_user("author")
    entry = _article(db, author, title="Refund windows",
                     body="| Plan | Days |\n| :--- | ---: |\n| Basic | 14 |\n| Plus | 30 |\n")
    context = browser.new_context()
    try:
        page = context.new_page()
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        login_as(page, live_server, author.email, PASSWORD)
        page.goto(f"{live_server}/articles/{entry.id}")
        cell = page.locator(".prose#content td").nth(1)
        expect(cell).to_have_text("14")
        assert cell.evaluate("td => getComputedStyle(td).textAlign") == "right"
        assert violations == []
    finally:
        context.close()
