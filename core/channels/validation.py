"""One validation of a draft against a network's declared capabilities, shared by all plugins."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

import msgspec

from core.channels.contract import Capabilities, Draft, MediaItem, MediaRules, OptionKind, PublishOption, PublishOptions
from core.channels.text import count_text, hashtags
from core.errors import N_

#: every hard limit's ``code`` → its English msgid (``%(name)s`` placeholders filled by ``params``);
#: marked with :func:`N_` so that the host extracts and translates them (``web.messages.violation_text``)
VIOLATIONS: dict[str, str] = {
    "format_unsupported": N_("the format “%(format)s” is not offered; allowed: %(allowed)s"),
    "text_not_allowed": N_("this format carries no text"),
    "text_too_long": N_("the text is %(length)s characters long as the network counts them; limit %(limit)s"),
    "too_many_hashtags": N_("%(count)s hashtags; the network accepts at most %(limit)s"),
    "title_too_long": N_("the title is %(length)s characters long; limit %(limit)s"),
    "media_missing": N_("this format needs at least %(minimum)s media; got %(count)s"),
    "too_many_media": N_("this format accepts at most %(maximum)s media; got %(count)s"),
    "media_kind_unsupported": N_("media %(index)s: this kind of media (%(kind)s) is not accepted here"),
    "media_type_unsupported": N_("media %(index)s: the file type %(content_type)s is not accepted"),
    "media_too_large": N_("media %(index)s: %(size)s bytes; limit %(limit)s"),
    "media_aspect_ratio": N_("media %(index)s: aspect ratio %(ratio)s outside %(min)s–%(max)s"),
    "media_too_long": N_("media %(index)s: %(duration)s s; limit %(limit)s s"),
    "media_too_short": N_("media %(index)s: %(duration)s s; minimum %(minimum)s s"),
    "option_required": N_("choose a value for “%(option)s”"),
    "option_invalid": N_("“%(value)s” is not a value of “%(option)s”"),
    "option_not_offered": N_("“%(value)s” is not offered for “%(option)s” on this account"),
}


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One way a draft breaks a network's hard limits. ``code`` is stable (a key of :data:`VIOLATIONS`);
    numbers and names are in ``params``; ``message`` is the two in English (logs, tests), the host
    shows ``gettext(template) % params`` in the reader's language."""

    code: str
    message: str
    params: dict[str, str | int | float] = {}

    @property
    def template(self) -> str:
        """The English msgid of this violation (the message itself for a code not in :data:`VIOLATIONS`)."""
        return VIOLATIONS.get(self.code, self.message)


def _violation(code: str, **params: str | int | float) -> Violation:
    """A violation from its code and parameters (an option is named by its English label in ``message``)."""
    template = VIOLATIONS[code]
    shown = {key: round(value, 2) if isinstance(value, float) else value for key, value in params.items()}
    if "option" in params:
        shown["option"] = params.get("label") or params["option"]
    return Violation(code=code, message=template % shown if params else template, params=params)


def validate_draft(capabilities: Capabilities, draft: Draft) -> list[Violation]:
    """Everything that would make the network refuse ``draft``; empty when it fits."""
    rules = capabilities.format_rules(draft.format)
    if rules is None:
        allowed = ", ".join(r.format.value for r in capabilities.formats)
        return [_violation("format_unsupported", format=draft.format.value, allowed=allowed)]
    found = _check_text(capabilities, draft, rules.text_allowed)
    found += _check_media_count(draft, rules.min_media, rules.max_media, rules.format.value)
    for index, item in enumerate(draft.media, start=1):
        found += _check_media_item(index, item, rules.media)
    found += _check_options(capabilities.options, draft, code_outside="option_invalid")
    return found


def validate_options(offered: PublishOptions, draft: Draft) -> list[Violation]:
    """The draft's options against what one account offers (``ChannelPlugin.publish_options``):
    a required option missing (``option_required``), a value the account does not offer
    (``option_not_offered``). Empty when they fit."""
    return _check_options(offered.options, draft, code_outside="option_not_offered")


_TRUE_FALSE = ("true", "false")


def _check_options(options: Iterable[PublishOption], draft: Draft, *, code_outside: str) -> list[Violation]:
    found: list[Violation] = []
    for option in options:
        if not option.applies_to(draft.format):
            continue
        value = draft.options.get(option.name)
        if value is None or value == "":
            if option.required:
                found.append(
                    _violation(
                        "option_required", option=option.name, label=option.label, allowed=", ".join(option.choices)
                    )
                )
            continue
        allowed = option.choices if option.kind is OptionKind.CHOICE else _TRUE_FALSE
        if allowed and value not in allowed:
            found.append(
                _violation(
                    code_outside, option=option.name, label=option.label, value=value, allowed=", ".join(allowed)
                )
            )
    return found


def public_media_url_problem(url: str, *, allow_loopback: bool = False) -> str | None:
    """Why a network that fetches media itself (Instagram, TikTok ``PULL_FROM_URL``) could not
    fetch ``url``: it must be HTTPS on a public host. ``allow_loopback`` (the demo's simulated
    networks only, which run on 127.0.0.1) also accepts ``http://`` on a loopback address.
    None when the URL will do."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = host == "localhost" or _is_loopback(host)
    if allow_loopback and loopback and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https":
        return f"the network fetches media from a public HTTPS address; {parts.scheme or 'this'}:// will not do"
    if not host or loopback or host.endswith((".local", ".internal", ".localhost")) or _is_private(host):
        return f"the network fetches media from a public address; {host or 'this host'} is not reachable from outside"
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _check_text(capabilities: Capabilities, draft: Draft, text_allowed: bool) -> list[Violation]:
    text_rules = capabilities.text
    found: list[Violation] = []
    if draft.text and not text_allowed:
        found.append(_violation("text_not_allowed"))
    length = count_text(draft.text, text_rules.counting)
    if length > text_rules.limit:
        found.append(
            _violation("text_too_long", length=length, limit=text_rules.limit, counting=text_rules.counting.value)
        )
    if text_rules.max_hashtags is not None:
        count = len(hashtags(draft.text))
        if count > text_rules.max_hashtags:
            found.append(_violation("too_many_hashtags", count=count, limit=text_rules.max_hashtags))
    if draft.title is not None and text_rules.title_limit is not None:
        title_length = count_text(draft.title, text_rules.counting)
        if title_length > text_rules.title_limit:
            found.append(_violation("title_too_long", length=title_length, limit=text_rules.title_limit))
    return found


def _check_media_count(draft: Draft, minimum: int, maximum: int, fmt: str) -> list[Violation]:
    count = len(draft.media)
    if count < minimum:
        return [_violation("media_missing", count=count, minimum=minimum, format=fmt)]
    if count > maximum:
        return [_violation("too_many_media", count=count, maximum=maximum, format=fmt)]
    return []


def _check_media_item(index: int, item: MediaItem, accepted: tuple[MediaRules, ...]) -> list[Violation]:
    rules = next((r for r in accepted if r.kind == item.kind), None)
    if rules is None:
        kinds = ", ".join(r.kind.value for r in accepted)
        return [_violation("media_kind_unsupported", index=index, kind=item.kind.value, accepted=kinds)]
    found: list[Violation] = []
    if rules.content_types and item.content_type and item.content_type not in rules.content_types:
        accepted_types = ", ".join(sorted(rules.content_types))
        found.append(
            _violation("media_type_unsupported", index=index, content_type=item.content_type, accepted=accepted_types)
        )
    if rules.max_bytes is not None and item.size_bytes is not None and item.size_bytes > rules.max_bytes:
        found.append(_violation("media_too_large", index=index, size=item.size_bytes, limit=rules.max_bytes))
    found += _check_aspect_ratio(index, item, rules)
    found += _check_duration(index, item, rules)
    return found


def _check_aspect_ratio(index: int, item: MediaItem, rules: MediaRules) -> list[Violation]:
    if not item.width or not item.height:
        return []
    ratio = item.width / item.height
    low, high = rules.min_aspect_ratio, rules.max_aspect_ratio
    if (low is not None and ratio < low - 1e-3) or (high is not None and ratio > high + 1e-3):
        return [_violation("media_aspect_ratio", index=index, ratio=round(ratio, 3), min=low or 0, max=high or 0)]
    return []


def _check_duration(index: int, item: MediaItem, rules: MediaRules) -> list[Violation]:
    if item.duration_s is None:
        return []
    if rules.max_duration_s is not None and item.duration_s > rules.max_duration_s:
        return [_violation("media_too_long", index=index, duration=item.duration_s, limit=rules.max_duration_s)]
    if rules.min_duration_s is not None and item.duration_s < rules.min_duration_s:
        return [_violation("media_too_short", index=index, duration=item.duration_s, minimum=rules.min_duration_s)]
    return []
