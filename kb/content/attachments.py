"""Uploaded files: checked by content, size-limited, stored by hash outside the web root.

The type is decided from the bytes alone (magic numbers via puremagic, the zip directory for
Office documents, a UTF-8 decode for text); the file name and the client's content type are
never trusted. Raster images are served inline; everything else, SVG included, only as a
download. An upload without an entry is private to its uploader until a revision links it
(``service._claim_attachments``).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import puremagic
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.models import Attachment, Entry, Revision
from kb.errors import Forbidden, NotFound, TooLarge, UnsupportedType, ValidationFailed

CHUNK_BYTES = 64 * 1024
# puremagic looks at the start of the file; this much is kept while streaming.
HEAD_BYTES = 64 * 1024
MAX_FILENAME_CHARS = 200

TEXT = "text/plain; charset=utf-8"
SVG = "image/svg+xml"
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
BINARY_TYPES = INLINE_TYPES | {"application/pdf"}
# Office Open XML: the part that tells a document, a workbook and a presentation apart.
OFFICE_PARTS = (
    ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
ALLOWED_TYPES = "images (PNG, JPEG, GIF, WebP), PDF, text/CSV, Office documents"

# What a browser would sniff as HTML (WHATWG MIME sniffing, "scriptable" patterns) or XML.
_MARKUP_START = re.compile(
    r"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[\s/>]"
    r"|<!--|<\?xml",
    re.IGNORECASE,
)
# An SVG document: optional XML declaration, comments and doctype, then the <svg> root.
_SVG_ROOT = re.compile(r"(?:<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s)*<svg[\s>]", re.IGNORECASE | re.DOTALL)
_UNSAFE_FILENAME_CHARS = re.compile(r'[<>:"|?*]')


# --- reading ---------------------------------------------------------------------------------


def can_view_attachment(*, session: Session, actor: User, attachment: Attachment) -> bool:
    """Its uploader and admins; anyone else only when they may open a revision that carries it
    (``access.revision_visible``, the rule of the review and revision pages): a file added in a
    draft stays as private as the draft, and whoever may see a submitted revision (its reviewers,
    the topic's experts) sees its files.

    A revision carries a file when it links to it and is of the file's entry, or was written by
    whoever uploaded it: the same image in a duplicate draft or another article of its uploader
    is shown with that one too, while linking someone else's private file shows nobody anything."""
    entry = session.get(Entry, attachment.entry_id) if attachment.entry_id is not None else None
    # A deleted draft's files go with it, for its uploader and admins too, unless a live revision carries them.
    if (entry is None or not access.is_deleted(entry)) and (actor.is_admin or attachment.uploader_id == actor.id):
        return True
    carried_by = Revision.author_id == attachment.uploader_id
    if attachment.entry_id is not None:
        carried_by = carried_by | (Revision.entry_id == attachment.entry_id)
    bodies = session.exec(
        select(Revision.body).join(Entry, Entry.id == Revision.entry_id)
        .where(carried_by, access.revision_visible(actor), Revision.body.contains(f"/attachments/{attachment.id}"))
    )
    return any(attachment.id in content.attachment_ids(body) for body in bodies)


def get_attachment(*, session: Session, actor: User, attachment_id: int) -> Attachment:
    """The attachment if this user may see it; otherwise NotFound, so its existence does not leak."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not can_view_attachment(session=session, actor=actor, attachment=attachment):
        raise NotFound("That file does not exist, or you cannot see it.")
    return attachment


def attachment_path(data_dir: Path, attachment: Attachment) -> Path:
    return _storage_root(data_dir) / attachment.sha256[:2] / attachment.sha256


def is_inline(attachment: Attachment) -> bool:
    """Only raster images are shown in the page; every other type is a download."""
    return attachment.content_type in INLINE_TYPES


def attachment_url(attachment: Attachment) -> str:
    """The link revisions use; ``service._claim_attachments`` recognises it by the id."""
    return f"/attachments/{attachment.id}/{quote(attachment.filename, safe='')}"


def markdown_link(attachment: Attachment) -> str:
    """What the editor inserts: an image for raster images, a link for anything else."""
    label = re.sub(r"([\\\[\]])", r"\\\1", attachment.filename)
    link = f"[{label}]({attachment_url(attachment)})"
    return f"!{link}" if is_inline(attachment) else link


# --- writing ---------------------------------------------------------------------------------


def check_can_attach(*, actor: User, entry: Entry | None) -> None:
    """Routes call this before receiving the body, so a refused upload is not read at all."""
    if not actor.is_active:
        raise Forbidden("Your account is deactivated.")
    if entry is not None and not access.can_edit(actor, entry):
        raise Forbidden("You cannot add files to this entry: only people who may edit it can.")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"The file is too large: the limit is {_megabytes(max_bytes)} MB. "
                    "Make it smaller (or split it) and upload it again.", field="file")


def store_upload(
    *, session: Session, actor: User, stream: BinaryIO, filename: str | None, data_dir: Path, max_bytes: int,
    entry: Entry | None = None,
) -> Attachment:
    """Stream the upload to disk (refusing it once it passes ``max_bytes``), check its type, record it."""
    check_can_attach(actor=actor, entry=entry)
    name = clean_filename(filename)
    root = _storage_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".upload-", dir=root)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            sha256, size, head, is_text = _copy_limited(stream, out, max_bytes)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationFailed("The file is empty. Choose a file with something in it.", field="file")
        content_type = _content_type(head=head, path=temp, is_text=is_text, filename=name)
        target = root / sha256[:2] / sha256
        if not target.exists():  # same bytes, same file: stored once
            target.parent.mkdir(exist_ok=True)
            os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    attachment = Attachment(sha256=sha256, size=size, content_type=content_type, filename=name,
                            entry_id=entry.id if entry is not None else None, uploader_id=actor.id)
    session.add(attachment)
    session.flush()
    return attachment


def clean_filename(raw: str | None) -> str:
    """The last path segment, without control or direction-override characters, at most 200 chars."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = _UNSAFE_FILENAME_CHARS.sub("_", " ".join(name.split())).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:  # keep the extension: it is what the download opens with
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return name or "file"


# --- helpers ---------------------------------------------------------------------------------


def _storage_root(data_dir: Path) -> Path:
    return Path(data_dir) / "attachments"


def _megabytes(max_bytes: int) -> str:
    return f"{max_bytes / (1024 * 1024):.4g}"


def _copy_limited(stream: BinaryIO, out: BinaryIO, max_bytes: int) -> tuple[str, int, bytes, bool]:
    """Copy in chunks; stop as soon as the size passes the limit. Also checks for UTF-8 text."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size, head, is_text = 0, b"", True
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        digest.update(chunk)
        out.write(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if is_text:
            is_text = _still_text(decoder, chunk)
    if is_text:
        is_text = _still_text(decoder, b"", final=True)
    return digest.hexdigest(), size, head, is_text


def _still_text(decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool = False) -> bool:
    if b"\x00" in chunk:
        return False
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _content_type(*, head: bytes, path: Path, is_text: bool, filename: str) -> str:
    magic = _top_magic_types(head)
    for content_type in magic:
        if content_type in BINARY_TYPES:
            return content_type
    if head.startswith(b"PK\x03\x04"):
        return _office_type(path, filename)
    if is_text:
        text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
        if _SVG_ROOT.match(text):
            return SVG
        start = text.lstrip()
        if start.startswith("#!") or _MARKUP_START.match(start) or any("html" in t or "xml" in t for t in magic):
            raise _not_allowed(filename)
        return TEXT
    raise _not_allowed(filename)


def _top_magic_types(head: bytes) -> list[str]:
    """The MIME types puremagic is most confident about (several formats can tie)."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    if not matches:
        return []
    best = matches[0].confidence
    return [m.mime_type for m in matches if m.confidence == best]


def _office_type(path: Path, filename: str) -> str:
    """A zip is allowed only when it is a Word, Excel or PowerPoint file without macros."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_allowed(filename) from None
    if "[Content_Types].xml" not in names:
        raise _not_allowed(filename)
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise UnsupportedType(
            f'"{filename}" contains macros, which are not allowed. Save it as a document without macros '
            "(.docx, .xlsx or .pptx) and upload it again.",
            field="file",
        )
    for part, content_type in OFFICE_PARTS:
        if part in names:
            return content_type
    raise _not_allowed(filename)


def _not_allowed(filename: str) -> UnsupportedType:
    return UnsupportedType(f'"{filename}" is not an allowed file type (allowed: {ALLOWED_TYPES}).', field="file")
