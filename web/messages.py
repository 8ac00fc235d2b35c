"""What core says, in the reader's language: refusals, network limits, policy findings, HTTP details.

``core`` speaks in English msgids and parameters (:class:`core.errors.Refusal` ``template`` and
``params``, :class:`core.channels.validation.Violation` ``code`` and ``params``); this module
turns them into the request's language (:mod:`web.i18n`). Parameters that are domain values
(a role, a state) are shown with their translated label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import N_, Refusal
from web import i18n
from web.i18n import gettext as _
from web.labels import option_label, role_label, state_label

#: parameters whose values are domain words, shown translated
_LABELS = {"role": role_label, "state": state_label, "option": option_label}

#: a network's hard limit (``Violation.code``) → its English msgid; ``params`` fill it
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

#: the details of litestar exceptions raised with plain strings (web/auth.py, the router): listed
#: here so that they are extracted and translated by :func:`http_detail`
HTTP_DETAILS = (
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("no such persona"),
    N_("this route declares no access rule"),
    N_("log in first"),
    N_("change your one-time password first"),
    N_("site administrators only"),
    N_("a persona route needs a persona_id path parameter"),
    N_("use Authorization: Bearer <token>"),
    N_("API tokens are accepted under /api only"),
    N_("unknown, revoked or inactive API token"),
)


def _shown(params: Mapping[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in params.items():
        if key in _LABELS and isinstance(value, str):
            shown[key] = _LABELS[key](value)
        elif isinstance(value, float):
            shown[key] = i18n.format_number(round(value, 2))
        elif isinstance(value, int) and not isinstance(value, bool):
            shown[key] = i18n.format_number(value)
        else:
            shown[key] = value
    return shown


def render(template: str, params: Mapping[str, Any] | None = None) -> str:
    """An English msgid with its parameters, in the current language."""
    text = _(template)
    if not params:
        return text
    try:
        return text % _shown(params)
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder: the English text
        return template % dict(params)


def refusal_text(exc: Refusal) -> str:
    """A service's refusal in the reader's language (a policy block: its blocking findings)."""
    findings = getattr(exc, "findings", None)
    if isinstance(findings, Mapping):
        blocks = [f for found in findings.values() for f in found if f.severity == "block"]
        if blocks:
            return "; ".join(dict.fromkeys(finding_text(f) for f in blocks))
    return render(exc.template, exc.params)


def violation_text(code: str, params: Mapping[str, Any], fallback: str = "") -> str:
    """A network's hard limit in the reader's language (``fallback``: the English message, for an unknown code)."""
    template = VIOLATIONS.get(code)
    if template is None:
        return fallback or code
    try:
        return render(template, params)
    except KeyError:  # parameters missing: say what we know
        return fallback or code


def finding_text(finding: Any, locale: str | None = None) -> str:
    """A policy finding (a :class:`personas.policy.Finding` or its ``FindingOut``) in ``locale`` (default: the
    request's). The network-limit findings are rebuilt from their code and numbers."""
    locale = locale or i18n.current_locale()
    data = getattr(finding, "data", None) or {}
    if getattr(finding, "rule", "") == "network_limits" and data.get("code") in VIOLATIONS:
        params = {k: v for k, v in data.items() if k != "code"}
        with i18n.using(locale):
            return _(
                "The network will refuse this: %(detail)s. Fix it before scheduling.",
                detail=violation_text(str(data["code"]), params),
            )
    return str(finding.message_fr if locale == "fr" else finding.message_en)


def notice_text(notice: str) -> str:
    """A network's notice (``Capabilities.notices``, an English msgid) in the reader's language."""
    return _(notice)


def http_detail(detail: str | None) -> str | None:
    """An HTTP exception's detail, translated when it is one of our msgids."""
    return _(detail) if detail else detail
