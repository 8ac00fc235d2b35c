"""Translations (gettext catalogues built with Babel), chosen per request.

The active catalogue lives in a ContextVar set for each request (user preference, then the
session, then Accept-Language, then the default), so one Jinja environment serves all.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
LOCALE_COOKIE = "pv_locale"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


def set_locale(locale: str) -> contextvars.Token[str]:
    return _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextlib.contextmanager
def using(locale: str) -> Iterator[None]:
    """Speak ``locale`` for a while (a text written for someone else than the request's reader)."""
    token = set_locale(locale)
    try:
        yield
    finally:
        _current.reset(token)


def current_locale() -> str:
    return _current.get()


def gettext(message: str, **variables: object) -> str:
    text = translations(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def choose(cookie: str | None, saved: str | None, accept_language: str | None) -> str:
    """The request's language: the cookie (set from the saved choice at login and on every switch),
    else the staff member's saved choice, else the browser's, else the default."""
    return cookie or saved or negotiate(accept_language) or DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str | None:
    """The first of our locales in an Accept-Language header."""
    if not accept_language:
        return None
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if not tag or tag == "*":
            continue
        try:
            language = Locale.parse(tag).language
        except (ValueError, TypeError):
            continue
        if language in LOCALES:
            return language
    return None


def format_local(moment: datetime | None, timezone: str, fmt: str = "medium") -> str:
    """A UTC datetime shown in a persona's time zone, in the current locale."""
    if moment is None:
        return "—"
    return format_datetime(moment, fmt, tzinfo=ZoneInfo(timezone), locale=_current.get())


def format_duration(seconds: float | None) -> str:
    """A delay as people say it ("1 h 30 min", "45 min"), in the current locale."""
    if seconds is None:
        return "—"
    return format_timedelta(
        timedelta(seconds=round(seconds / 60) * 60), threshold=2, granularity="minute", locale=_current.get()
    )


def format_number(value: float | int | None) -> str:
    return "—" if value is None else format_decimal(value, locale=_current.get())
