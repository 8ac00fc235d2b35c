"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jinja2
from litestar import Litestar, Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine as Jinja
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import Capabilities, Feature
from core.channels.registry import ChannelRegistry
from core.errors import Refusal
from core.people.permissions import Action
from core.policy import delivery_text
from core.publishing.preview import preview
from core.queue.worker import EmbeddedWorker
from core.runtime import Runtime
from core.settings import Settings, load_settings
from web import access, i18n, messages
from web.accounts.admin import AdminAccountsController
from web.accounts.api import AccountApiController
from web.auth import (
    SESSION_COOKIE,
    SESSION_STORE,
    CookieCSRFMiddleware,
    RotatingSessionBackend,
    RotatingSessionConfig,
    StaffAuthMiddleware,
    StaffUser,
    access_guard,
    retrieve_staff,
)
from web.deps import DEPENDENCIES
from web.headers import add_security_headers
from web.health import health
from web.inbox.admin import INBOX_LABELS, AdminInboxController
from web.inbox.api import InboxApiController
from web.inbox.webhooks import WebhookController
from web.inputs import CheckedRequest, check_form, check_query
from web.labels import LABELS
from web.media.admin import AdminMediaController
from web.media.api import MediaApiController
from web.media.public import PublicMediaController
from web.notifications.admin import AdminNotificationsController
from web.notifications.api import NotificationApiController
from web.openapi import operation_id
from web.people.admin import AdminMeController, AdminStaffController
from web.people.api import MeApiController, StaffApiController, TeamApiController
from web.people.login import AuthController
from web.personas.admin import AdminPersonasController
from web.personas.api import PersonaApiController
from web.publishing.admin import AdminPublishingController
from web.publishing.api import PublishingApiController
from web.publishing.edit import AdminEditController, edit_post
from web.publishing.pause import AdminPauseController, PauseApiController
from web.ratelimit import LoginThrottle
from web.refusals import http_error, refused, server_error
from web.simulated import SimulatedNetworks
from web.usage.admin import AdminUsageController
from web.usage.api import UsageApiController
from web.veille.admin import AdminVeilleController
from web.veille.api import VeilleApiController
from web.veille.crisis import AdminCrisisController, CrisisApiController

HERE = Path(__file__).parent
SESSION_MAX_AGE = 12 * 3600
#: what never needs a session (nor the Redis that keeps them): probes, the networks' media, static files,
#: the networks' webhooks (they prove who they are by their signature, never by a cookie)
SESSIONLESS = ["^/static/", "^/schema", "^/health$", "^/media/", "^/webhooks/"]
REDIS_TIMEOUT_S = 2.0
#: the rooms with pages: their templates are named after the room ("publishing/compose.html")
ROOMS = ("publishing", "people", "personas", "accounts", "media", "inbox", "notifications", "usage", "veille")


@jinja2.pass_context
def _can(context: jinja2.runtime.Context, persona_id: Any, action: str) -> bool:
    """Templates ask the permission table: ``can(persona.id, "approve")``."""
    user = context["request"].scope.get("user")
    return isinstance(user, StaffUser) and user.can(persona_id, Action(action))


def _jinja_environment(
    settings: Settings, oauth_channels: frozenset[str] = frozenset(), registry: ChannelRegistry | None = None
) -> jinja2.Environment:
    rooms = {room: jinja2.FileSystemLoader(HERE / room / "templates") for room in ROOMS}
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(HERE / "templates"), jinja2.PrefixLoader(rooms)]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local"] = i18n.format_local
    env.filters["number"] = i18n.format_number
    env.filters["duration"] = i18n.format_duration
    env.globals["current_locale"] = i18n.current_locale
    env.globals["locales"] = i18n.LOCALES
    env.globals["simulated_networks"] = settings.simulated_networks
    env.globals["can"] = _can
    #: channels whose plugin connects accounts through OAuth (the others get no "Connect" button)
    env.globals["oauth_channels"] = oauth_channels
    env.globals.update(LABELS)
    env.globals.update(INBOX_LABELS)
    #: a delivery as its network will show it (approvals, post and delivery pages)
    env.globals["network_preview"] = lambda delivery: preview(
        delivery, _capabilities(registry, delivery.account.channel)
    )
    #: what core says (English msgids and parameters), in the reader's language
    env.globals["finding_text"] = messages.finding_text
    env.globals["notice_text"] = messages.notice_text
    env.globals["refusal_text"] = messages.refusal_text
    #: the text a delivery carries: its network's variant when there is one (calendar, lists)
    env.globals["delivery_text"] = lambda delivery: delivery_text(delivery.post, delivery.account.channel)
    return env


def _capabilities(registry: ChannelRegistry | None, channel: str) -> Capabilities | None:
    return registry.get(channel).capabilities if registry is not None and channel in registry else None


async def _before_request(request: Request[Any, Any, Any]) -> None:
    # async on purpose: a sync hook may run in a worker thread, where the ContextVar would be lost
    # The cookie is set from the staff member's saved choice at login, and on every switch.
    user = request.scope.get("user")
    saved = user.locale if isinstance(user, StaffUser) else None
    i18n.set_locale(i18n.choose(request.cookies.get(i18n.LOCALE_COOKIE), saved, request.headers.get("accept-language")))
    # in the request's language
    check_query(request)
    await check_form(request)


def _oauth_channels(runtime: Runtime) -> frozenset[str]:
    return frozenset(key for key, plugin in runtime.channels.items() if plugin.capabilities.supports(Feature.OAUTH))


async def _start_simulated_networks(runtime: Runtime) -> SimulatedNetworks:
    simulated = SimulatedNetworks()
    runtime.base_url_overrides.update(simulated.start())
    runtime.channel_overrides.update(simulated.oauth_settings())
    await simulated.connect_accounts(runtime)
    await simulated.seed_inbox(runtime)  # comments and messages for the first poll to bring in
    await simulated.seed_veille(runtime)  # the Région's watch on simulated press and weather feeds
    return simulated


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Litestar:
    runtime = runtime or Runtime(settings or load_settings())
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        simulated = await _start_simulated_networks(runtime) if settings.simulated_networks else None
        app.state.simulated = simulated
        # Embedded mode: with no Redis server configured, the worker lives in this process.
        worker = EmbeddedWorker(runtime) if settings.embedded_worker and not settings.redis_url else None
        if worker is not None:
            await worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if simulated is not None:
                simulated.stop()
            await runtime.aclose()

    session_auth = SessionAuth[StaffUser, RotatingSessionBackend](
        retrieve_user_handler=retrieve_staff,
        session_backend_config=RotatingSessionConfig(
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            key=SESSION_COOKIE,
            exclude=SESSIONLESS,
            store=SESSION_STORE,
        ),
        authentication_middleware_class=StaffAuthMiddleware,
        exclude=[*SESSIONLESS, "^/login$"],
    )
    # One client for sessions and the login throttle (connections open lazily, on the serving loop).
    # Short timeouts: a Redis that stops answering makes a request answer 503 fast, not hang.
    redis = Redis.from_url(runtime.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="pv_csrf",
        header_name="x-csrftoken",
        cookie_secure=settings.cookie_secure,
        # a network posting a webhook has no CSRF token: its signature is checked instead
        exclude=["^/webhooks/"],
    )
    return Litestar(
        route_handlers=[
            PublicMediaController,
            WebhookController,
            health,
            AuthController,
            AdminPersonasController,
            AdminStaffController,
            AdminMeController,
            AdminPublishingController,
            AdminEditController,
            AdminPauseController,
            AdminAccountsController,
            AdminMediaController,
            AdminInboxController,
            AdminNotificationsController,
            AdminUsageController,
            AdminVeilleController,
            AdminCrisisController,
            PersonaApiController,
            AccountApiController,
            TeamApiController,
            MediaApiController,
            PublishingApiController,
            edit_post,
            PauseApiController,
            InboxApiController,
            NotificationApiController,
            UsageApiController,
            VeilleApiController,
            CrisisApiController,
            StaffApiController,
            MeApiController,
            create_static_files_router(
                path="/static",
                directories=[HERE / "static"],
                name="static",
                include_in_schema=False,
                opt=access.public()["opt"],
            ),
        ],
        dependencies=DEPENDENCIES,
        on_app_init=[session_auth.on_app_init],
        stores={SESSION_STORE: RedisStore(redis, namespace="portevoix:sessions")},
        # CSRF as a middleware after authentication (not csrf_config): it must know a token authenticated the request
        middleware=[DefineMiddleware(CookieCSRFMiddleware, config=csrf)],
        guards=[access_guard],
        before_send=[add_security_headers],
        template_config=TemplateConfig(
            instance=Jinja.from_environment(_jinja_environment(settings, _oauth_channels(runtime), runtime.channels))
        ),
        openapi_config=OpenAPIConfig(
            title="Porte-voix API",
            version="1",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "apiToken": SecurityScheme(type="http", scheme="bearer", description="a personal API token, pv_…")
                }
            ),
            security=[{"apiToken": []}],
            operation_id_creator=operation_id,
        ),
        before_request=_before_request,
        request_class=CheckedRequest,
        exception_handlers={HTTPException: http_error, Refusal: refused, Exception: server_error},
        lifespan=[lifespan],
        state=State({"runtime": runtime, "login_throttle": LoginThrottle(redis)}),
        debug=False,
        signature_namespace={"AsyncSession": AsyncSession, "StaffUser": StaffUser},
    )
