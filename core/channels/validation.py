"""One validation of a draft against a network's declared capabilities, shared by all plugins."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

import msgspec

from core.channels.contract import Capabilities, Draft, MediaItem, MediaRules, OptionKind, PublishOption, PublishOptions
from core.channels.text import count_text, hashtags


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One way a draft breaks a network's hard limits. ``code`` is stable; numbers are in ``params``."""

    code: str
    message: str
    params: dict[str, str | int | float] = {}


def validate_draft(capabilities: Capabilities, draft: Draft) -> list[Violation]:
    """Everything that would make the network refuse ``draft``; empty when it fits."""
    rules = capabilities.format_rules(draft.format)
    if rules is None:
        allowed = ", ".join(r.format.value for r in capabilities.formats)
        return [
            Violation(
                code="format_unsupported",
                message=f"format {draft.format.value!r} is not offered; allowed: {allowed}",
                params={"format": draft.format.value, "allowed": allowed},
            )
        ]
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
                    Violation(
                        code="option_required",
                        message=f"choose a value for {option.label or option.name}"
                        + (f" ({', '.join(option.choices)})" if option.choices else ""),
                        params={"option": option.name, "allowed": ", ".join(option.choices)},
                    )
                )
            continue
        allowed = option.choices if option.kind is OptionKind.CHOICE else _TRUE_FALSE
        if allowed and value not in allowed:
            found.append(
                Violation(
                    code=code_outside,
                    message=f"{option.label or option.name}: {value!r} is not offered; allowed: {', '.join(allowed)}",
                    params={"option": option.name, "value": value, "allowed": ", ".join(allowed)},
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
        found.append(Violation(code="text_not_allowed", message="this format carries no text"))
    length = count_text(draft.text, text_rules.counting)
    if length > text_rules.limit:
        found.append(
            Violation(
                code="text_too_long",
                message=(
                    f"text is {length} long as the network counts it "
                    f"({text_rules.counting.value}); limit {text_rules.limit}"
                ),
                params={
                    "length": length,
                    "limit": text_rules.limit,
                    "counting": text_rules.counting.value,
                },
            )
        )
    if text_rules.max_hashtags is not None:
        count = len(hashtags(draft.text))
        if count > text_rules.max_hashtags:
            found.append(
                Violation(
                    code="too_many_hashtags",
                    message=f"{count} hashtags; the network accepts at most {text_rules.max_hashtags}",
                    params={"count": count, "limit": text_rules.max_hashtags},
                )
            )
    if draft.title is not None and text_rules.title_limit is not None:
        title_length = count_text(draft.title, text_rules.counting)
        if title_length > text_rules.title_limit:
            found.append(
                Violation(
                    code="title_too_long",
                    message=f"title is {title_length} long; limit {text_rules.title_limit}",
                    params={"length": title_length, "limit": text_rules.title_limit},
                )
            )
    return found


def _check_media_count(draft: Draft, minimum: int, maximum: int, fmt: str) -> list[Violation]:
    count = len(draft.media)
    if count < minimum:
        return [
            Violation(
                code="media_missing",
                message=f"format {fmt!r} needs at least {minimum} media; got {count}",
                params={"count": count, "minimum": minimum},
            )
        ]
    if count > maximum:
        return [
            Violation(
                code="too_many_media",
                message=f"format {fmt!r} accepts at most {maximum} media; got {count}",
                params={"count": count, "maximum": maximum},
            )
        ]
    return []


def _check_media_item(index: int, item: MediaItem, accepted: tuple[MediaRules, ...]) -> list[Violation]:
    rules = next((r for r in accepted if r.kind == item.kind), None)
    if rules is None:
        kinds = ", ".join(r.kind.value for r in accepted) or "none"
        return [
            Violation(
                code="media_kind_unsupported",
                message=f"media {index}: {item.kind.value} not accepted here (accepted: {kinds})",
                params={"index": index, "kind": item.kind.value},
            )
        ]
    found: list[Violation] = []
    if rules.content_types and item.content_type and item.content_type not in rules.content_types:
        found.append(
            Violation(
                code="media_type_unsupported",
                message=f"media {index}: {item.content_type} not accepted ({', '.join(sorted(rules.content_types))})",
                params={"index": index, "content_type": item.content_type},
            )
        )
    if rules.max_bytes is not None and item.size_bytes is not None and item.size_bytes > rules.max_bytes:
        found.append(
            Violation(
                code="media_too_large",
                message=f"media {index}: {item.size_bytes} bytes; limit {rules.max_bytes}",
                params={"index": index, "size": item.size_bytes, "limit": rules.max_bytes},
            )
        )
    found += _check_aspect_ratio(index, item, rules)
    found += _check_duration(index, item, rules)
    return found


def _check_aspect_ratio(index: int, item: MediaItem, rules: MediaRules) -> list[Violation]:
    if not item.width or not item.height:
        return []
    ratio = item.width / item.height
    low, high = rules.min_aspect_ratio, rules.max_aspect_ratio
    if (low is not None and ratio < low - 1e-3) or (high is not None and ratio > high + 1e-3):
        return [
            Violation(
                code="media_aspect_ratio",
                message=f"media {index}: aspect ratio {ratio:.2f} outside {low or 0:.2f}–{high or 0:.2f}",
                params={
                    "index": index,
                    "ratio": round(ratio, 3),
                    "min": low or 0,
                    "max": high or 0,
                },
            )
        ]
    return []


def _check_duration(index: int, item: MediaItem, rules: MediaRules) -> list[Violation]:
    if item.duration_s is None:
        return []
    if rules.max_duration_s is not None and item.duration_s > rules.max_duration_s:
        return [
            Violation(
                code="media_too_long",
                message=f"media {index}: {item.duration_s:.0f} s; limit {rules.max_duration_s:.0f} s",
                params={"index": index, "duration": item.duration_s, "limit": rules.max_duration_s},
            )
        ]
    if rules.min_duration_s is not None and item.duration_s < rules.min_duration_s:
        return [
            Violation(
                code="media_too_short",
                message=f"media {index}: {item.duration_s:.1f} s; minimum {rules.min_duration_s:.0f} s",
                params={
                    "index": index,
                    "duration": item.duration_s,
                    "minimum": rules.min_duration_s,
                },
            )
        ]
    return []
