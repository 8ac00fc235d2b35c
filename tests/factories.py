"""polyfactory factories for the domain model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from polyfactory import Ignore, Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory, SQLAlchemyPersistenceMethod

from core.db.enums import AccountMode, AccountStatus, DeliveryKind, DeliveryState, Employer, PersonaKind
from core.db.models import Account, ChannelPolicy, Delivery, Persona, Post, Staff
from core.security import hash_password

_PASSWORD_HASH = hash_password("correct horse battery")  # hashing is slow on purpose: once


class _Base:
    __is_base_factory__ = True
    __set_relationships__ = False
    __persistence_method__ = SQLAlchemyPersistenceMethod.FLUSH

    @classmethod
    def get_provider_map(cls) -> dict[Any, Callable[[], Any]]:
        # The models store aware datetimes only.
        return {**super().get_provider_map(), datetime: lambda: cls.__faker__.date_time(tzinfo=UTC)}  # type: ignore[misc]


class PersonaFactory(_Base, SQLAlchemyFactory[Persona]):
    slug = Use(lambda: f"persona-{PersonaFactory.__faker__.unique.random_int(1, 10**8)}")
    kind = PersonaKind.INSTITUTION
    embodies = False
    timezone = "Europe/Paris"
    language = "fr"
    definition = Use(dict)
    paused = False
    pause_reason = None


class ChannelPolicyFactory(_Base, SQLAlchemyFactory[ChannelPolicy]):
    allowed = True
    refusal_reason = None
    posts_per_day = 1
    reposts_per_day = None
    audience = 1000
    formats = Use(list)


class AccountFactory(_Base, SQLAlchemyFactory[Account]):
    channel = "x"
    status = AccountStatus.CONNECTED
    mode = AccountMode.LIVE
    credentials_encrypted = None
    token_expires_at = None
    throttled_until = None
    inbox_cursor = None
    external_id = Use(lambda: str(AccountFactory.__faker__.unique.random_int(1, 10**12)))


class StaffFactory(_Base, SQLAlchemyFactory[Staff]):
    email = Use(lambda: StaffFactory.__faker__.unique.email())
    password_hash = _PASSWORD_HASH
    is_admin = False
    is_active = True
    locale = "fr"
    employer = Employer.INSTITUTION
    last_login_at = None


class PostFactory(_Base, SQLAlchemyFactory[Post]):
    kind = DeliveryKind.POST
    format = "post"
    repost_of = None
    link = None
    author_id = None
    variants = Use(dict)
    origin = None


class DeliveryFactory(_Base, SQLAlchemyFactory[Delivery]):
    persona_id = Ignore()  # the account's, filled by the model
    kind = DeliveryKind.POST
    in_reply_to_id = None
    state = DeliveryState.DRAFT
    attempts = 0
    scheduled_at = None
    next_attempt_at = None
    lease_until = None
    leased_by = None
    remote_id = None
    remote_url = None
    published_at = None
    last_error = None
    error_kind = None
    approved_by_id = None
    approval_reason = None
    client_ref = Use(lambda: DeliveryFactory.__faker__.uuid4())
