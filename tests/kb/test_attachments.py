"""Attachments: type by content, size limit while streaming, storage by hash, who may see them."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib

import pytest

from kb.content import attachments
from kb.content import service as content
from kb.content.forum import ask_question
from kb.content.models import Attachment
from kb.content.schemas import ArticleCreate, QuestionCreate, RevisionCreate
from kb.errors import Forbidden, NotFound, TooLarge, UnsupportedType, ValidationFailed
from tests.helpers import rows

MB = 1024 * 1024


# --- small but real files of each kind -------------------------------------------------------


def png(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def office(kind: str, *, macros: bool = False) -> bytes:
    part = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml",
            "zip": "notes.txt"}[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if kind != "zip":
            archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr(part, "<x/>")
        if macros:
            archive.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    return buffer.getvalue()


PNG = png(2, 2)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<?xml version="1.0"?>\n<!-- exported -->\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
HTML = b"<html><script>alert(1)</script>"
TEXT = "Refund windows: 30 days for most items; café vouchers excluded.\n".encode()
CSV = b"order,amount\n1001,19.99\n1002,5.00\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


class EndlessStream:
    """A file-like object that never ends; counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = 64 * 1024 if size is None or size < 0 else size
        self.read_bytes += size
        return b"a" * size


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def upload(db, data_dir):
    def _upload(actor, data: bytes, filename: str = "file.bin", *, entry=None, max_bytes: int = 10 * MB):
        attachment = attachments.store_upload(session=db, actor=actor, stream=io.BytesIO(data), filename=filename,
                                              data_dir=data_dir, max_bytes=max_bytes, entry=entry)
        db.commit()
        return attachment

    return _upload


def stored_files(data_dir) -> list:
    root = data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def article(db, author, body="Body text.", title="Refunds"):
    entry = content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body, tags=["refunds"]))
    db.commit()
    return entry


# --- types -----------------------------------------------------------------------------------


def test_png_is_accepted_stored_by_hash_and_inline(make_user, upload, data_dir):
    user = make_user("author")
    attachment = upload(user, PNG, "screenshot.png")
    digest = hashlib.sha256(PNG).hexdigest()
    assert (attachment.content_type, attachment.size, attachment.sha256) == ("image/png", len(PNG), digest)
    path = attachments.attachment_path(data_dir, attachment)
    assert path == data_dir / "attachments" / digest[:2] / digest
    assert path.read_bytes() == PNG
    assert stored_files(data_dir) == [path]  # no temporary file left behind
    assert attachments.is_inline(attachment)


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "inline"),
    [
        (JPEG, "photo.jpg", "image/jpeg", True),
        (GIF, "spinner.gif", "image/gif", True),
        (WEBP, "photo.webp", "image/webp", True),
        (PDF, "policy.pdf", "application/pdf", False),
        (TEXT, "notes.txt", "text/plain; charset=utf-8", False),
        (CSV, "orders.csv", "text/plain; charset=utf-8", False),
        (office("docx"), "letter.docx", DOCX, False),
        (office("xlsx"), "sheet.xlsx", XLSX, False),
        (office("pptx"), "slides.pptx", PPTX, False),
        (SVG, "diagram.svg", "image/svg+xml", False),
        # The name does not matter, only the bytes.
        (PNG, "report.pdf", "image/png", True),
        (PDF, "image.png", "application/pdf", False),
    ],
)
def test_allowed_types_are_decided_by_content(make_user, upload, data, filename, content_type, inline):
    attachment = upload(make_user("author"), data, filename)
    assert attachment.content_type == content_type
    assert attachments.is_inline(attachment) is inline


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (HTML, "cat.png"),
        (b"<!DOCTYPE html><p>hi</p>", "page.txt"),
        (b"  <script>alert(1)</script>", "notes.txt"),
        (b"<?xml version='1.0'?><root/>", "data.csv"),
        (b"#!/bin/sh\nrm -rf /\n", "run.txt"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64, "setup.png"),
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "tool.pdf"),
        (office("zip"), "archive.docx"),
        (b"\xde\xad\xbe\xef" * 32, "blob.png"),
        ("UTF-16 text".encode("utf-16"), "notes.txt"),
    ],
)
def test_other_types_are_refused_whatever_their_name(make_user, upload, data_dir, data, filename):
    with pytest.raises(UnsupportedType) as refused:
        upload(make_user("author"), data, filename)
    assert refused.value.message == (
        f'"{filename}" is not an allowed file type '
        "(allowed: images (PNG, JPEG, GIF, WebP), PDF, text/CSV, Office documents)."
    )
    assert stored_files(data_dir) == []


def test_office_documents_with_macros_are_refused(make_user, upload, db):
    with pytest.raises(UnsupportedType, match="macros"):
        upload(make_user("author"), office("docx", macros=True), "invoice.docm")
    assert rows(db, Attachment) == []


def test_an_empty_file_is_refused(make_user, upload):
    with pytest.raises(ValidationFailed, match="empty"):
        upload(make_user("author"), b"", "empty.png")


# --- size ------------------------------------------------------------------------------------


def test_a_stream_over_the_limit_is_refused_without_reading_it_all(make_user, db, data_dir):
    stream = EndlessStream()
    with pytest.raises(TooLarge) as refused:
        attachments.store_upload(session=db, actor=make_user("author"), stream=stream, filename="huge.txt",
                                 data_dir=data_dir, max_bytes=1 * MB)
    assert refused.value.message.startswith("The file is too large: the limit is 1 MB.")
    assert stream.read_bytes <= 1 * MB + attachments.CHUNK_BYTES
    assert stored_files(data_dir) == []  # the partial temporary file is gone


def test_a_file_of_exactly_the_limit_is_accepted_one_byte_more_is_not(make_user, upload):
    user = make_user("author")
    assert upload(user, b"x" * 1000, "a.txt", max_bytes=1000).size == 1000
    with pytest.raises(TooLarge):
        upload(user, b"x" * 1001, "b.txt", max_bytes=1000)


# --- storage ---------------------------------------------------------------------------------


def test_the_same_bytes_uploaded_twice_are_stored_once(make_user, upload, data_dir, db):
    first = upload(make_user("author"), PNG, "one.png")
    second = upload(make_user("author"), PNG, "two.png")
    assert first.id != second.id and first.sha256 == second.sha256
    assert {a.filename for a in rows(db, Attachment)} == {"one.png", "two.png"}
    assert stored_files(data_dir) == [attachments.attachment_path(data_dir, first)]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\screen shot.png", "screen shot.png"),
        ("bad\x00name\x1b.png", "badname.png"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # no right-to-left override tricks
        ('what?"<b>".png', "what___b__.png"),
        ("  .hidden  ", "hidden"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
    ],
)
def test_file_names_are_sanitised(raw, clean):
    assert attachments.clean_filename(raw) == clean


def test_long_file_names_are_cut_to_200_characters_keeping_the_extension():
    name = attachments.clean_filename("a" * 500 + ".pdf")
    assert len(name) == 200 and name.endswith("a.pdf")


def test_markdown_link_is_an_image_only_for_raster_images(make_user, upload):
    user = make_user("author")
    image = upload(user, PNG, "my [screen] (1).png")
    assert attachments.markdown_link(image) == (
        rf"![my \[screen\] (1).png](/attachments/{image.id}/my%20%5Bscreen%5D%20%281%29.png)"
    )
    assert attachments.markdown_link(upload(user, PDF, "policy.pdf")).startswith("[policy.pdf](/attachments/")
    assert attachments.markdown_link(upload(user, SVG, "d.svg")).startswith("[d.svg](")


# --- who may upload and see ------------------------------------------------------------------


def test_uploading_to_an_entry_needs_permission_to_edit_it(make_user, upload, db):
    author, other_author, agent = make_user("author"), make_user("author"), make_user("agent")
    entry = article(db, author)
    assert upload(author, PNG, "a.png", entry=entry).entry_id == entry.id
    for outsider in (other_author, agent):  # a draft is not theirs to change
        with pytest.raises(Forbidden):
            upload(outsider, PNG, "b.png", entry=entry)
    question = ask_question(session=db, actor=author, data=QuestionCreate(title="How?", body="Body.", tags=[]))
    db.commit()
    with pytest.raises(Forbidden):  # they can see the question, but it is not theirs
        upload(agent, PNG, "c.png", entry=question)


def test_an_unlinked_upload_is_visible_only_to_its_uploader_and_admins(make_user, upload, db):
    uploader, other, admin = make_user("agent"), make_user("author"), make_user("admin")
    attachment = upload(uploader, PNG, "a.png")
    for viewer in (uploader, admin):
        assert attachments.get_attachment(session=db, actor=viewer, attachment_id=attachment.id).id == attachment.id
    with pytest.raises(NotFound):
        attachments.get_attachment(session=db, actor=other, attachment_id=attachment.id)
    with pytest.raises(NotFound):
        attachments.get_attachment(session=db, actor=uploader, attachment_id=attachment.id + 1000)


def test_an_attachment_of_a_draft_article_is_hidden_from_agents(make_user, upload, db):
    author, agent = make_user("author"), make_user("agent")
    attachment = upload(author, PNG, "a.png", entry=article(db, author))
    assert attachments.get_attachment(session=db, actor=author, attachment_id=attachment.id)
    with pytest.raises(NotFound):
        attachments.get_attachment(session=db, actor=agent, attachment_id=attachment.id)


def test_saving_a_revision_that_links_an_upload_gives_it_to_the_entry(make_user, upload, db):
    author, agent = make_user("author"), make_user("agent")
    entry = article(db, author)
    attachment = upload(author, PNG, "x.png")
    assert attachment.entry_id is None
    data = RevisionCreate(title="Refunds", body=f"See ![x](/attachments/{attachment.id}/x.png)", tags=["refunds"],
                          base_revision_id=entry.latest_revision_id)
    content.save_revision(session=db, actor=author, entry=entry, data=data)
    db.commit()
    assert rows(db, Attachment, id=attachment.id)[0].entry_id == entry.id
    with pytest.raises(NotFound):  # still a draft: agents do not see it
        attachments.get_attachment(session=db, actor=agent, attachment_id=attachment.id)


def test_a_forum_questions_attachment_is_visible_to_every_signed_in_user(make_user, upload, db):
    asker, reader = make_user("agent"), make_user("agent")
    attachment = upload(asker, PNG, "error.png")
    ask_question(session=db, actor=asker,
                 data=QuestionCreate(title="What is this error?", body=f"![e](/attachments/{attachment.id}/e.png)"))
    db.commit()
    assert attachments.get_attachment(session=db, actor=reader, attachment_id=attachment.id).id == attachment.id


def test_someone_elses_upload_cannot_be_claimed_by_linking_it(make_user, upload, db):
    owner, author = make_user("agent"), make_user("author")
    attachment = upload(owner, PNG, "private.png")
    article(db, author, body=f"![stolen](/attachments/{attachment.id}/private.png)")
    assert rows(db, Attachment, id=attachment.id)[0].entry_id is None
    with pytest.raises(NotFound):
        attachments.get_attachment(session=db, actor=author, attachment_id=attachment.id)
