"""The composer's upload: a file with its alt text, stored for the persona and offered to the post.

With htmx the new media comes back as one more entry of the composer's media list (checked),
and the live check runs again; without it, the browser comes back to the composer. A refused
upload says why the same two ways, in the uploader's language; an image converted to JPEG for a
network (Instagram takes no PNG) says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
from web.messages import refusal_text

#: the networks' own names (brands: not translated)
NETWORK_NAMES = {
    "x": "X",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
}


def network_names(channels: Sequence[str]) -> str:
    return ", ".join(NETWORK_NAMES.get(c, c.capitalize()) for c in channels)


def converted_note(channels: Sequence[str]) -> str:
    """ "Converted to JPEG for Instagram", in the uploader's language ("" when nothing was converted)."""
    return _("Converted to JPEG for %(networks)s", networks=network_names(channels)) if channels else ""


def _refused(request: Request[Any, Any, Any], exc: Refusal) -> Response[Any]:
    message = refusal_text(exc)
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
        stored = await upload(request, db_session, persona_id, me, data)
        media, note = stored.media, converted_note(stored.converted_for)
        if request.headers.get("hx-request"):
            return HTMXTemplate(
                template_name="media/_media_item.html",
                context={"media": media, "checked": True, "converted": note},
                trigger_event="media-added",
                after="settle",
            )
        if stored.converted_for:
            networks = network_names(stored.converted_for)
            flash(
                request,
                _(
                    "Uploaded: %(filename)s. Converted to JPEG for %(networks)s.",
                    filename=media.filename,
                    networks=networks,
                ),
            )
        else:
            flash(request, _("Uploaded: %(filename)s.", filename=media.filename))
        return Redirect(f"/admin/personas/{persona_id}/compose?media={media.id}", status_code=303)
