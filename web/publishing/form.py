"""The post's form, as the composer and the edit page both show it and read it.

One reader for the fields they share (accounts, text, media, variants, link, format, the
networks' publish options, a ``datetime-local`` time) and one page context, so that a field added
to the composer is on the edit page too (``publishing/_post_fields.html`` is the template side).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar.datastructures import FormMultiDict

from core.accounts import service as accounts_service
from core.channels import PublishOptions
from core.db.models import Account, Media, Persona
from core.errors import Refusal
from core.media import service as media_service
from core.runtime import Runtime
from web.i18n import gettext as _
from web.structs import camel

#: a publish option's form field: ``option__tiktok__privacy_level``
OPTION_PREFIX = "option__"
#: how many of the author's unused uploads the form offers
LIBRARY_SHOWN = 30


def local_input(value: str) -> datetime | None:
    """A ``datetime-local`` input (2027-02-10T10:00), a wall-clock time in the persona's time zone."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        raise Refusal(_("This date and time is not valid: %(value)s", value=value), field="local_time") from None


def options_fields(form: FormMultiDict, channels: set[str]) -> dict[str, dict[str, str]]:
    """The per-network options (``option__<channel>__<name>``); an empty choice is none."""
    chosen: dict[str, dict[str, str]] = {}
    for key in form:
        channel, _sep, name = key.removeprefix(OPTION_PREFIX).partition("__")
        if key.startswith(OPTION_PREFIX) and channel in channels and name and (value := form.get(key, "").strip()):
            chosen.setdefault(channel, {})[name] = value
    return chosen


def post_fields(form: FormMultiDict, persona: Persona) -> dict[str, Any]:
    """The fields a post is made of, by their service names (``variants`` keeps empty texts: on the
    edit page an emptied variant is one to drop)."""
    channels = {a.channel for a in persona.accounts}
    return {
        "account_ids": form.getall("account_id", []),
        "media_ids": form.getall("media_id", []),
        "text": form.get("text", ""),
        "link": form.get("link") or None,
        "format": form.get("format", "post"),
        "variants": {c: form.get(f"variant_{c}", "") for c in channels if f"variant_{c}" in form},
        "options": options_fields(form, channels),
    }


def prefilled_options(options: dict[str, dict[str, str]] | None) -> dict[str, str]:
    """A post's saved options as the form's fields (to show them ticked and chosen)."""
    return {
        f"{OPTION_PREFIX}{channel}__{name}": value
        for channel, chosen in (options or {}).items()
        for name, value in chosen.items()
    }


def convert(fields: dict[str, Any], kind: type[Any]) -> Any:
    """Form fields into the API's structure (camelCase on the wire), validated the same way."""
    try:
        return msgspec.convert({camel(k): v for k, v in fields.items()}, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise Refusal(str(exc)) from None


async def publish_options_of(runtime: Runtime, persona: Persona) -> list[tuple[Account, PublishOptions]]:
    """Each account's options to choose (read from the network: TikTok's creator_info)."""
    found = []
    for account in persona.accounts:
        if (options := await accounts_service.publish_options(runtime, account)) is not None and options.options:
            found.append((account, options))
    return found


async def library(
    db: Any,
    persona: Persona,
    *,
    author: uuid.UUID,
    keep: list[Media] | None = None,
    chosen: set[str] | None = None,
) -> list[Media]:
    """The media the form offers: ``keep`` (the post's own) first, then the author's own unused
    uploads — one person's uploads do not pile up in everyone's composer — and any unused media of
    the persona the form names in ``chosen`` (the media page's "use in a post", a refused form)."""
    own = list(keep or [])
    unused = await media_service.list_media(db, persona.id, unattached=True, uploaded_by=author, limit=LIBRARY_SHOWN)
    shown = {m.id for m in own}
    for media_id in chosen or set():
        try:
            wanted = uuid.UUID(media_id)
        except ValueError:
            continue
        found = await media_service.persona_media(db, persona.id, wanted)
        if found is not None and found.post_id is None and found.id not in shown and found not in unused:
            unused.insert(0, found)
    return own + [m for m in unused if m.id not in shown]


async def form_context(
    runtime: Runtime,
    persona: Persona,
    *,
    media: list[Media],
    form: dict[str, str],
    chosen: set[str],
    chosen_media: set[str],
    error: str | None = None,
    blocked: list[Any] | None = None,
) -> dict[str, Any]:
    """What ``publishing/_post_fields.html`` reads, for the composer and the edit page alike."""
    refused = {p.channel: p.refusal_reason for p in persona.channel_policies if not p.allowed}
    with_account = {a.channel for a in persona.accounts}
    return {
        "persona": persona,
        "refused": refused,
        "refused_without_account": {c: r for c, r in refused.items() if c not in with_account},
        "form": form,
        "chosen": chosen,
        "error": error,
        "blocked": blocked or [],
        #: the media offered (the post's own, then the persona's unused uploads) and those ticked
        "media": media,
        "chosen_media": chosen_media,
        #: (account, the options its network asks for) — TikTok's privacy level…
        "publish_options": await publish_options_of(runtime, persona),
    }


def typed_form(form: FormMultiDict) -> tuple[dict[str, str], set[str], set[str]]:
    """What was typed, to show the form again: its fields, the accounts and media ticked."""
    return (
        {key: form.get(key, "") for key in form},
        set(form.getall("account_id", [])),
        set(form.getall("media_id", [])),
    )


def account_names(accounts: Any) -> dict[uuid.UUID, tuple[str, str]]:
    return {a.id: (a.channel, a.handle) for a in accounts}
