"""The composer's upload: a file with its alt text, stored for the persona and offered to the post.

With htmx the new media comes back as one more entry of the composer's media list (checked),
and the live check runs again; without it, the browser comes back to the composer. A refused
upload says why the same two ways.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Staff
from core.errors import Refusal
from core.people.permissions import Action
from web import access
from web.auth import StaffUser
from web.forms import Multipart, flash
from web.i18n import gettext as _
from web.media.api import UPLOAD_BODY_LIMIT, upload
from web.media.schemas import MediaUploadForm


def refused_message(exc: Refusal) -> str:
    """The service's refusal in the uploader's language."""
    messages = {
        "empty": _("The file is empty."),
        "too_large": _("The file is larger than 50 MB."),
    }
    if exc.message.startswith("this file is neither an image"):
        return _("This file is neither an image (JPEG, PNG, GIF, WebP) nor a video (MP4, MOV, WebM).")
    return messages.get(exc.code, exc.message)


def _refused(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    message = refused_message(exc)
    if request.headers.get("hx-request"):
        return HTMXTemplate(template_name="media/_media_refused.html", context={"message": message})
    flash(request, _("Upload refused: %(detail)s", detail=message))
    return Redirect(f"/admin/personas/{request.path_params['persona_id']}/compose", status_code=303)


class AdminMediaController(Controller):
    path = "/admin/personas/{persona_id:uuid}/media"
    include_in_schema = False

    @post(
        "/",
        status_code=200,
        request_max_body_size=UPLOAD_BODY_LIMIT,
        refused=_refused,
        **access.persona(Action.COMPOSE),
    )
    async def upload_from_composer(
        self,
        request: Request[StaffUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        persona_id: FromPath[uuid.UUID],
        me: NamedDependency[Staff],
        data: Annotated[MediaUploadForm, Multipart],
    ) -> Template | Redirect:
        media = await upload(request, db_session, persona_id, me, data)
        if request.headers.get("hx-request"):
            return HTMXTemplate(
                template_name="media/_media_item.html",
                context={"media": media, "checked": True},
                trigger_event="media-added",
                after="settle",
            )
        flash(request, _("Uploaded: %(filename)s.", filename=media.filename))
        return Redirect(f"/admin/personas/{persona_id}/compose?media={media.id}", status_code=303)
