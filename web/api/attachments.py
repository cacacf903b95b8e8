"""JSON API: attach a file to an entry."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kb.content import attachments
from web.deps import ApiEntryDep, ApiUser, SessionDep, SettingsDep
from web.routes.attachments import max_upload_bytes, receive_form, uploaded_file

router = APIRouter(tags=["attachments"])


class AttachmentCreated(BaseModel):
    id: int
    url: str
    filename: str
    content_type: str
    size: int


# The body is parsed by ``receive_form`` (so oversized uploads stop early); describe it here.
_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    },
    "responses": {
        "403": {"description": "You may see the entry but not edit it."},
        "404": {"description": "The entry does not exist, or you cannot see it."},
        "413": {"description": "The file is larger than the upload limit."},
        "415": {"description": "The file type is not allowed (decided by content, not by name)."},
    },
}


@router.post(
    "/entries/{entry_id}/attachments",
    response_model=AttachmentCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_MULTIPART_BODY,
)
async def upload_attachment(entry: ApiEntryDep, request: Request, session: SessionDep, settings: SettingsDep,
                            user: ApiUser):
    """Upload a file (multipart field `file`) to an entry you may edit; link it from a revision with `url`."""
    await run_in_threadpool(attachments.check_can_attach, actor=user, entry=entry)
    form = await receive_form(request, max_bytes=max_upload_bytes(settings))
    try:
        file = uploaded_file(form)
        attachment = await run_in_threadpool(
            attachments.store_upload, session=session, actor=user, stream=file.file, filename=file.filename,
            data_dir=settings.data_dir, max_bytes=max_upload_bytes(settings), entry=entry,
        )
    finally:
        await form.close()
    return AttachmentCreated(id=attachment.id, url=attachments.attachment_url(attachment),
                             filename=attachment.filename, content_type=attachment.content_type, size=attachment.size)
