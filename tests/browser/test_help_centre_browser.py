"""The static help centre (``kb publish``) opened from disk in Chromium: no kb server, relative
links, the search box finds an article by a word of its text, the picture loads, and what is not
customer-facing and certified is in no file."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from kb.accounts import service as accounts
from kb.content import attachments, audiences
from kb.content import service as content
from kb.content.help_centre import publish_help_centre
from kb.content.models import Entry, Revision
from kb.content.schemas import RevisionCreate
from kb.demo_accounts_and_content import load_demo_accounts, load_demo_content
from workflow.demo_states import load_demo_workflow
from workflow.models import Action
from workflow.service import transition

pytestmark = pytest.mark.browser

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def help_centre(db, settings, tmp_path):
    load_demo_accounts(session=db)
    load_demo_content(session=db)
    load_demo_workflow(session=db)
    admin = accounts.find_user_by_email(session=db, email="admin@example.com")
    author = accounts.find_user_by_email(session=db, email="author@example.com")
    certified = list(db.exec(select(Entry).where(Entry.kind == "article", Entry.certified_revision_id.is_not(None))
                             .order_by(Entry.id)))
    shown, hidden = certified[:3], certified[3]
    # The first gets a picture and a Gnuwordpublic sentence from the author, certified by an administrator.
    picture = attachments.store_upload(session=db, actor=author, stream=io.BytesIO(PNG), filename="steps.png",
                                       data_dir=settings.data_dir, max_bytes=1 << 20, entry=shown[0])
    db.refresh(shown[0])
    latest = db.get(Revision, shown[0].latest_revision_id)
    tags = content.tags_of(session=db, revision_ids=[latest.id])[latest.id]
    revision = content.save_revision(session=db, actor=author, entry=shown[0], data=RevisionCreate(
        title=latest.title, body=latest.body + f"\n\nGnuwordpublic. ![steps]({attachments.attachment_url(picture)})",
        tags=tags, base_revision_id=latest.id))
    for actor, action in ((author, Action.submit), (admin, Action.approve), (admin, Action.certify)):
        transition(session=db, actor=actor, revision_id=revision.id, action=action)
    for entry in shown:
        db.refresh(entry)
        audiences.set_audience(session=db, actor=admin, entry=entry, group_ids=[], public=True)
    db.refresh(shown[1])
    draft_base = db.get(Revision, shown[1].latest_revision_id)
    content.save_revision(session=db, actor=admin, entry=shown[1], data=RevisionCreate(
        title=draft_base.title, body="Okapidraft text.", tags=["billing"], base_revision_id=draft_base.id))
    db.commit()
    out = tmp_path / "help centre"  # a space: file:// addresses escape it
    publish_help_centre(session=db, data_dir=settings.data_dir, path=out)
    title = lambda e: db.get(Revision, e.certified_revision_id).title  # noqa: E731
    return out, [title(e) for e in shown], title(hidden)


def test_the_help_centre_works_from_disk_and_search_finds_an_article(page, help_centre):
    out, titles, hidden_title = help_centre
    page.goto((out / "index.html").as_uri())
    expect(page.locator("h1")).to_have_text("Help centre")
    for title in titles:
        expect(page.locator("#topics").get_by_role("link", name=title, exact=True).first).to_be_visible()

    page.fill("#q", "gnuwordpub")  # a prefix of a word of the first article's text
    expect(page.locator("#results h2")).to_have_text("1 article found")
    expect(page.locator("#topics")).to_be_hidden()
    page.locator("#results a").click()
    expect(page.locator("article h1")).to_have_text(titles[0])
    image = page.locator("article img")
    expect(image).to_have_count(1)
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", image.element_handle())
    page.get_by_role("link", name="← All articles").click()
    assert page.url.endswith("/index.html")

    page.fill("#q", "zzznothing")
    expect(page.locator("#results h2")).to_contain_text("No article matches")

    written = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file())
    assert "Okapidraft" not in written and hidden_title not in written
    assert not re.search(r'(href|src)="/', written)
