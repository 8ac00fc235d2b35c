"""What core says, in the reader's language: refusals, network limits, policy findings, HTTP details.

``core`` speaks in English msgids and parameters (:class:`core.errors.Refusal` ``template`` and
``params``, :class:`core.channels.validation.Violation` ``code`` and ``params``); this module
turns them into the request's language (:mod:`web.i18n`). Parameters that are domain values
(a role, a state) are shown with their translated label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.channels import validation
from core.errors import N_, Refusal
from web import i18n
from web.i18n import gettext as _
from web.labels import option_label, role_label, state_label

#: parameters whose values are domain words, shown translated
_LABELS = {"role": role_label, "state": state_label, "option": option_label}

#: a network's hard limit (``Violation.code``) → its English msgid; ``params`` fill it
VIOLATIONS: Mapping[str, str] = validation.VIOLATIONS


def _media_kind_label(kind: str) -> str:
    return {"image": _("image"), "video": _("video"), "gif": _("GIF")}.get(kind, kind)


def _format_label(fmt: str) -> str:
    return {
        "post": _("Post"),
        "photo": _("Photo"),
        "video": _("Video"),
        "reel": _("Reel"),
        "story": _("Story"),
        "carousel": _("Carousel"),
    }.get(fmt, fmt)


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
        return render(template, _violation_params(code, params))
    except KeyError:  # parameters missing: say what we know
        return fallback or code


def _violation_params(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A violation's parameters with its domain words in the reader's language."""
    shown = dict(params)
    if isinstance(kind := params.get("kind"), str):
        shown["kind"] = _media_kind_label(kind)
    if isinstance(fmt := params.get("format"), str):
        shown["format"] = _format_label(fmt)
    if code == "format_unsupported" and isinstance(allowed := params.get("allowed"), str):
        shown["allowed"] = ", ".join(_format_label(f.strip()) for f in allowed.split(",") if f.strip())
    if isinstance(option := params.get("option"), str):
        label = params.get("label")
        shown["option"] = option_label(option, label if isinstance(label, str) else "")
    return shown


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


def http_exception_text(exc: Exception) -> str:
    """An HTTP exception in the reader's language: its ``template`` and ``params`` when it carries
    them (:class:`web.auth.RoleRefused`), else its detail (:func:`http_detail`)."""
    template = getattr(exc, "template", None)
    if isinstance(template, str):
        return render(template, getattr(exc, "params", None))
    return http_detail(getattr(exc, "detail", None)) or ""
