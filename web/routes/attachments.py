"""Attachments in the browser: the editor's upload endpoint (JSON) and serving the files.

Uploads are parsed here rather than by a ``File()`` parameter: FastAPI would read the whole body
before any check, so a 50 MB upload would be spooled to disk before being refused. This reads at
most the size limit (plus the multipart envelope) and stops.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from kb.accounts.models import User
from kb.content import attachments
from kb.content import service as content
from kb.content.models import Attachment
from kb.errors import DomainError, NotFound, Unauthorized, ValidationFailed
from web.deps import AttachmentDep, OptionalUser, SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)

# Room for the multipart boundaries, part headers and small fields around the file itself.
ENVELOPE_BYTES = 64 * 1024
FILE_CSP = "default-src 'none'; sandbox"


def max_upload_bytes(settings) -> int:
    return settings.max_upload_mb * 1024 * 1024


async def receive_form(request: Request, *, max_bytes: int) -> FormData:
    """The multipart form, refused with TooLarge as soon as the body passes the limit."""
    limit = max_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise attachments.too_large(max_bytes)
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:  # chunked bodies have no Content-Length: count as they arrive
            raise attachments.too_large(max_bytes)
        return message

    limited = Request(request.scope, receive_limited)
    try:
        return await limited.form(max_files=1, max_fields=10)
    except StarletteHTTPException as exc:  # malformed multipart
        if exc.status_code == 413:  # web.limits counted the body past the limit first
            raise
        raise ValidationFailed(f"The upload could not be read ({exc.detail}). Try again.", field="file") from None


def uploaded_file(form: FormData) -> UploadFile:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("Choose a file to upload (form field 'file').", field="file")
    return upload


def _json_error(exc: DomainError) -> JSONResponse:
    body = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return JSONResponse(body, status_code=exc.status_code)


@router.post("/attachments")
async def upload(request: Request, session: SessionDep, settings: SettingsDep, user: OptionalUser):
    """Used by the editor when an image is pasted or dropped: always answers JSON."""
    form = None
    try:
        if user is None:
            raise Unauthorized("Your session has ended. Sign in again, then upload the file.")
        await run_in_threadpool(attachments.check_can_attach, actor=user, entry=None)
        form = await receive_form(request, max_bytes=max_upload_bytes(settings))
        file = uploaded_file(form)
        attachment = await run_in_threadpool(_store, session, user, settings, file, form.get("entry_id"))
    except DomainError as exc:
        return _json_error(exc)
    finally:
        if form is not None:
            await form.close()
    body = {
        "id": attachment.id,
        "url": attachments.attachment_url(attachment),
        "filename": attachment.filename,
        "markdown": attachments.markdown_link(attachment),
    }
    return JSONResponse(body, status_code=201)


def _store(session, user: User, settings, file: UploadFile, raw_entry_id) -> Attachment:
    entry = None
    if raw_entry_id:
        if not isinstance(raw_entry_id, str) or not raw_entry_id.strip().isdigit():
            raise ValidationFailed("entry_id must be the number of an entry.", field="entry_id")
        entry = content.get_entry(session=session, actor=user, entry_id=int(raw_entry_id))
    return attachments.store_upload(
        session=session, actor=user, stream=file.file, filename=file.filename, data_dir=settings.data_dir,
        max_bytes=max_upload_bytes(settings), entry=entry,
    )


@router.get("/attachments/{attachment_id}")
@router.get("/attachments/{attachment_id}/{filename}")
def download(attachment: AttachmentDep, settings: SettingsDep):
    path = attachments.attachment_path(settings.data_dir, attachment)
    if not path.is_file():
        raise NotFound("That file is missing from storage. Ask an administrator to restore it from a backup.")
    disposition = "inline" if attachments.is_inline(attachment) else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.filename, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
        # Even if a browser did render the file as a document, it gets no scripts, no origin.
        "Content-Security-Policy": FILE_CSP,
    }
    return FileResponse(path, media_type=attachment.content_type, headers=headers)
