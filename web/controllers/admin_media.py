"""The composer's upload: a file with its alt text, stored for the persona and offered to the post.

With htmx the new media comes back as one more entry of the composer's media list (checked),
and the live check runs again; without it, the browser comes back to the composer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException
from litestar.params import Body, FromPath
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.enums import Role
from web import access
from web.auth import StaffUser
from web.controllers.admin import flash
from web.i18n import gettext as _
from web.media import UPLOAD_BODY_LIMIT, MediaUploadForm, upload

Multipart = Body(media_type=RequestEncodingType.MULTI_PART)


def refused_message(detail: str) -> str:
    messages = {
        "the file is empty": _("The file is empty."),
        "the file is larger than 50 MB": _("The file is larger than 50 MB."),
    }
    if detail.startswith("this file is neither an image"):
        return _("This file is neither an image (JPEG, PNG, GIF, WebP) nor a video (MP4, MOV, WebM).")
    return messages.get(detail, detail)


class AdminMediaController(Controller):
    path = "/admin/personas/{persona_id:uuid}/media"
    include_in_schema = False

    @post("/", status_code=200, request_max_body_size=UPLOAD_BODY_LIMIT, **access.persona(Role.CONTRIBUTOR))
    async def upload_from_composer(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        data: Annotated[MediaUploadForm, Multipart],
    ) -> Template | Redirect:
        htmx = bool(request.headers.get("hx-request"))
        try:
            async with db_session.begin_nested():
                media = await upload(request, db_session, persona_id, data)
        except ClientException as exc:
            message = refused_message(str(exc.detail))
            if htmx:
                return HTMXTemplate(template_name="admin/_media_refused.html", context={"message": message})
            flash(request, _("Upload refused: %(detail)s", detail=message))
            return Redirect(f"/admin/personas/{persona_id}/compose", status_code=303)
        if htmx:
            return HTMXTemplate(
                template_name="admin/_media_item.html",
                context={"media": media, "checked": True},
                trigger_event="media-added",
                after="settle",
            )
        flash(request, _("Uploaded: %(filename)s.", filename=media.filename))
        return Redirect(f"/admin/personas/{persona_id}/compose?media={media.id}", status_code=303)
