"""Attachments over HTTP: the editor's upload endpoint, serving files, and the JSON API."""

from __future__ import annotations

import hashlib
import struct
import zlib
from urllib.parse import quote

from kb.content import service as content
from kb.content.forum import ask_question
from kb.content.models import Attachment, Entry, Revision
from kb.content.schemas import ArticleCreate, QuestionCreate, RevisionCreate
from tests.helpers import csrf_from, form_post, login, rows
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM

MB = 1024 * 1024


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(
        b"IEND", b"")


PNG = png()
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<html><script>alert(1)</script>"
REFUSED_TYPE = "is not an allowed file type (allowed: images (PNG, JPEG, GIF, WebP), PDF, text/CSV, Office documents)"


def signed_in(client, user) -> str:
    """Sign in and return the CSRF token pages would give the editor."""
    assert login(client, user.email).status_code == 303
    return csrf_from(client.get("/").text)


def editor_upload(client, token, data: bytes, filename: str, **extra):
    headers = {"X-CSRF-Token": token, "Accept": "application/json"} if token else {"Accept": "application/json"}
    return client.post("/attachments", files={"file": (filename, data, "image/png")}, headers=headers, **extra)


def api_upload(client, headers, entry_id: int, data: bytes, filename: str = "file.bin"):
    return client.post(f"/api/v1/entries/{entry_id}/attachments", files={"file": (filename, data)}, headers=headers)


def draft_article(db, author, body="Body."):
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(title="Refunds", body=body, tags=["x"]))
    db.commit()
    return entry


# --- the editor's upload endpoint ------------------------------------------------------------


def test_a_pasted_png_is_stored_and_served_inline(client, make_user, settings):
    token = signed_in(client, make_user("author"))
    response = editor_upload(client, token, PNG, "Screen shot.png")
    assert response.status_code == 201, response.text
    reply = response.json()
    url = f"/attachments/{reply['id']}/Screen%20shot.png"
    assert reply == {"id": reply["id"], "url": url, "filename": "Screen shot.png", "markdown": f"![Screen shot.png]({url})"}

    served = client.get(url)
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"] == "inline; filename*=UTF-8''Screen%20shot.png"
    assert served.headers["cache-control"] == "private, max-age=3600"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert client.get(f"/attachments/{reply['id']}").content == PNG  # the name in the URL is cosmetic

    digest = hashlib.sha256(PNG).hexdigest()
    assert (settings.data_dir / "attachments" / digest[:2] / digest).read_bytes() == PNG


def test_an_html_file_named_png_is_refused_with_415(client, make_user, db):
    token = signed_in(client, make_user("author"))
    response = editor_upload(client, token, HTML, "cute-cat.png")
    assert response.status_code == 415
    assert response.json()["detail"] == f'"cute-cat.png" {REFUSED_TYPE}.'
    assert rows(db, Attachment) == []


def test_the_editor_upload_needs_a_csrf_token(client, make_user, db):
    signed_in(client, make_user("author"))
    response = editor_upload(client, None, PNG, "a.png")
    assert response.status_code == 403
    assert rows(db, Attachment) == []


def test_the_csrf_token_may_also_come_as_a_form_field(client, make_user):
    token = signed_in(client, make_user("author"))
    response = client.post("/attachments", files={"file": ("a.png", PNG)}, data={"csrf_token": token})
    assert response.status_code == 201


def test_signed_out_uploads_get_401_json(client):
    token = csrf_from(client.get("/login").text)
    response = editor_upload(client, token, PNG, "a.png")
    assert response.status_code == 401
    assert "Sign in" in response.json()["detail"]


def test_a_missing_file_field_gets_422_json(client, make_user):
    token = signed_in(client, make_user("author"))
    response = client.post("/attachments", data={"note": "x"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    assert "Choose a file" in response.json()["detail"]


def test_an_editor_upload_over_the_limit_gets_413_json(client, make_user, settings):
    settings.max_upload_mb = 1
    token = signed_in(client, make_user("author"))
    response = editor_upload(client, token, b"x" * (MB + 1), "big.txt")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file is too large: the limit is 1 MB.")


def test_an_editor_upload_may_name_its_entry(client, make_user, db):
    author = make_user("author")
    entry = draft_article(db, author)
    token = signed_in(client, author)
    response = client.post("/attachments", files={"file": ("a.png", PNG)}, data={"entry_id": str(entry.id)},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 201
    assert rows(db, Attachment, id=response.json()["id"])[0].entry_id == entry.id


# --- serving ---------------------------------------------------------------------------------


def test_svg_is_only_ever_a_download(client, make_user):
    token = signed_in(client, make_user("author"))
    reply = editor_upload(client, token, SVG, "diagram.svg").json()
    assert reply["markdown"] == f"[diagram.svg]({reply['url']})"  # a link, not an image
    served = client.get(reply["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.headers["content-disposition"] == "attachment; filename*=UTF-8''diagram.svg"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["x-content-type-options"] == "nosniff"


def test_a_pdf_is_served_as_a_download(client, make_user):
    token = signed_in(client, make_user("author"))
    reply = editor_upload(client, token, PDF, "Politique de remboursement é.pdf").json()
    served = client.get(reply["url"])
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''" + quote("Politique de remboursement é.pdf", safe="")
    )


def test_signed_out_visitors_are_sent_to_sign_in(client, make_user):
    token = signed_in(client, make_user("author"))
    url = editor_upload(client, token, PNG, "a.png").json()["url"]
    client.cookies.clear()
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_an_unlinked_upload_is_visible_only_to_its_uploader_until_a_revision_links_it(client, make_user, db):
    asker, reader = make_user("agent"), make_user("agent")
    token = signed_in(client, asker)
    reply = editor_upload(client, token, PNG, "error.png").json()
    assert client.get(reply["url"]).status_code == 200

    signed_in(client, reader)
    assert client.get(reply["url"]).status_code == 404

    # The question links it: now it is the question's, and the forum is open to every signed-in user.
    question = ask_question(session=db, actor=asker, data=QuestionCreate(title="What is this error?", body="See below."))
    data = RevisionCreate(title="What is this error?", body=f"![error]({reply['url']})",
                          base_revision_id=question.latest_revision_id)
    content.save_revision(session=db, actor=asker, entry=question, data=data)
    db.commit()
    assert rows(db, Attachment, id=reply["id"])[0].entry_id == question.id
    assert client.get(reply["url"]).status_code == 200


def test_an_attachment_of_a_draft_article_is_404_for_agents(client, make_user, bearer, db):
    author, agent = make_user("author"), make_user("agent")
    entry = draft_article(db, author)
    response = api_upload(client, bearer(author), entry.id, PNG, "chart.png")
    assert response.status_code == 201
    url = response.json()["url"]

    signed_in(client, author)
    assert client.get(url).status_code == 200
    signed_in(client, agent)
    assert client.get(url).status_code == 404


def _certified_article(db, author, expert):
    entry = draft_article(db, author, body="Certified text.")
    designate_expert(session=db, actor=SYSTEM, topic="x", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=entry.latest_revision_id, action=action)
    db.commit()
    return entry


def _link_in_new_revision(db, author, entry, url: str):
    db.refresh(entry)
    revision = content.save_revision(session=db, actor=author, entry=entry, data=RevisionCreate(
        title="Refunds", body=f"New draft text ![chart]({url})", tags=["x"], base_revision_id=entry.latest_revision_id))
    db.commit()
    return revision


def test_a_file_added_in_a_draft_of_a_certified_article_stays_as_private_as_the_draft(client, make_user, bearer, db):
    """Regression (issue 12, defect 3): the file was served to anyone who could see the entry."""
    author, expert = make_user("author"), make_user("expert")
    agent, other_author, admin = make_user("agent"), make_user("author"), make_user("admin")
    entry = _certified_article(db, author, expert)
    url = api_upload(client, bearer(author), entry.id, PNG, "draft-chart.png").json()["url"]
    _link_in_new_revision(db, author, entry, url)

    for viewer, status in ((author, 200), (admin, 200), (agent, 404), (other_author, 404), (expert, 404)):
        signed_in(client, viewer)
        assert client.get(url).status_code == status, viewer.email


def test_a_file_the_certified_revision_links_is_served_to_agents(client, make_user, bearer, db):
    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    entry = draft_article(db, author)
    url = api_upload(client, bearer(author), entry.id, PNG, "chart.png").json()["url"]
    revision = _link_in_new_revision(db, author, entry, url)
    designate_expert(session=db, actor=SYSTEM, topic="x", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=revision.id, action=action)
    db.commit()
    signed_in(client, agent)
    assert client.get(url).status_code == 200


def test_reviewers_see_the_files_of_the_revision_they_review(client, make_user, bearer, db):
    """Experts reviewing a submitted revision need its images; before it is submitted they are private."""
    author, expert = make_user("author"), make_user("expert")
    entry = draft_article(db, author)
    url = api_upload(client, bearer(author), entry.id, PNG, "screenshot.png").json()["url"]
    revision = _link_in_new_revision(db, author, entry, url)
    signed_in(client, expert)
    assert client.get(url).status_code == 404
    transition(session=db, actor=author, revision_id=revision.id, action=Action.submit)
    db.commit()
    assert client.get(url).status_code == 200


def _submit_through_pages(client, db, token, *, title: str, body: str) -> Revision:
    """What an author does in the browser: save the editor's form, then press "Submit for review"."""
    saved = form_post(client, "/articles", {"title": title, "body": body, "tags": "x"}, page="/articles/new")
    assert saved.status_code == 303, saved.text
    entry = db.get(Entry, int(saved.headers["location"].split("/")[2].split("?")[0]))
    db.refresh(entry)
    submitted = form_post(client, f"/revisions/{entry.latest_revision_id}/submit", {}, page=f"/articles/{entry.id}")
    assert submitted.status_code == 303, submitted.text
    return db.get(Revision, entry.latest_revision_id)


def test_the_reviewers_of_a_duplicate_draft_see_its_images(client, make_user, db):
    """Issue 14, item 7: the image pasted in the editor belongs to the first draft (saved twice by
    Back and Save); the author submitted the duplicate, and its reviewers saw a broken image."""
    author, expert, agent, other = make_user("author"), make_user("expert"), make_user("agent"), make_user("expert")
    token = signed_in(client, author)
    image = editor_upload(client, token, PNG, "screen.png").json()
    body = f"Open the refund screen:\n\n{image['markdown']}"
    first = form_post(client, "/articles", {"title": "Refunds", "body": body, "tags": "x"}, page="/articles/new")
    assert first.status_code == 303
    designate_expert(session=db, actor=SYSTEM, topic="x", user=expert)
    db.commit()
    revision = _submit_through_pages(client, db, token, title="Refunds", body=body)
    assert rows(db, Attachment, id=image["id"])[0].entry_id != revision.entry_id  # claimed by the first draft

    for viewer, status in ((expert, 200), (other, 200), (agent, 404)):
        signed_in(client, viewer)
        assert client.get(f"/review/{revision.id}").status_code == status, viewer.email
        assert client.get(image["url"]).status_code == status, viewer.email


def test_linking_someone_elses_private_file_shows_it_to_nobody(client, make_user, bearer, db):
    author, thief, expert = make_user("author"), make_user("author"), make_user("expert")
    entry = draft_article(db, author)
    url = api_upload(client, bearer(author), entry.id, PNG, "private.png").json()["url"]
    token = signed_in(client, thief)
    _submit_through_pages(client, db, token, title="Borrowed", body=f"![x]({url})")
    for viewer in (thief, expert):
        signed_in(client, viewer)
        assert client.get(url).status_code == 404, viewer.email


def test_a_file_missing_from_storage_is_404(client, make_user, settings):
    token = signed_in(client, make_user("author"))
    reply = editor_upload(client, token, PDF, "p.pdf").json()
    for path in (settings.data_dir / "attachments").rglob("*"):
        if path.is_file():
            path.unlink()
    assert client.get(reply["url"]).status_code == 404


# --- the JSON API ----------------------------------------------------------------------------


def test_api_upload_returns_201_with_id_and_url(client, make_user, bearer, db):
    author = make_user("author")
    entry = draft_article(db, author)
    response = api_upload(client, bearer(author), entry.id, PDF, "policy.pdf")
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"/attachments/{body['id']}/policy.pdf"
    assert body["content_type"] == "application/pdf" and body["size"] == len(PDF)
    assert rows(db, Attachment, id=body["id"])[0].entry_id == entry.id


def test_api_refuses_a_50_mb_upload_with_413(client, make_user, bearer, db):
    author = make_user("author")
    entry = draft_article(db, author)
    response = api_upload(client, bearer(author), entry.id, b"\x00" * (50 * MB), "huge.bin")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file is too large: the limit is 10 MB.")
    assert rows(db, Attachment) == []


def test_api_refuses_a_body_just_over_the_limit_without_content_length(client, make_user, bearer, db, settings):
    settings.max_upload_mb = 1
    author = make_user("author")
    entry = draft_article(db, author)
    boundary = "kb-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunked_body():  # a generator: sent with Transfer-Encoding: chunked, no Content-Length
        yield head
        for _ in range(3):
            yield b"x" * (MB // 2)
        yield tail

    response = client.post(f"/api/v1/entries/{entry.id}/attachments", content=chunked_body(),
                           headers={**bearer(author), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert rows(db, Attachment) == []


def test_api_refuses_a_file_one_byte_over_the_limit(client, make_user, bearer, db, settings):
    settings.max_upload_mb = 1
    author = make_user("author")
    entry = draft_article(db, author)
    assert api_upload(client, bearer(author), entry.id, b"x" * MB, "exact.txt").status_code == 201
    response = api_upload(client, bearer(author), entry.id, b"x" * (MB + 1), "over.txt")
    assert response.status_code == 413


def test_api_refuses_an_html_file_named_png_with_415(client, make_user, bearer, db):
    author = make_user("author")
    entry = draft_article(db, author)
    response = api_upload(client, bearer(author), entry.id, HTML, "cat.png")
    assert response.status_code == 415
    assert REFUSED_TYPE in response.json()["detail"]


def test_api_upload_to_an_entry_you_cannot_see_is_404(client, make_user, bearer, db):
    entry = draft_article(db, make_user("author"))
    response = api_upload(client, bearer(make_user("agent")), entry.id, PNG, "a.png")
    assert response.status_code == 404
    assert api_upload(client, bearer(make_user("agent")), 999_999, PNG, "a.png").status_code == 404


def test_api_upload_to_an_entry_you_cannot_edit_is_403(client, make_user, bearer, db):
    question = ask_question(session=db, actor=make_user("agent"), data=QuestionCreate(title="How?", body="Body."))
    db.commit()
    response = api_upload(client, bearer(make_user("agent")), question.id, PNG, "a.png")
    assert response.status_code == 403


def test_api_upload_needs_a_token(client, db, make_user):
    entry = draft_article(db, make_user("author"))
    assert api_upload(client, {}, entry.id, PNG, "a.png").status_code == 401


def test_api_upload_without_a_file_is_422(client, make_user, bearer, db):
    author = make_user("author")
    entry = draft_article(db, author)
    response = client.post(f"/api/v1/entries/{entry.id}/attachments", data={"x": "y"}, headers=bearer(author))
    assert response.status_code == 422
    assert "Choose a file" in response.json()["detail"]


def test_the_upload_is_documented_in_openapi(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/entries/{entry_id}/attachments"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert {"201", "403", "404", "413", "415"} <= set(operation["responses"])
