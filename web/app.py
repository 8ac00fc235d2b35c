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
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine as Jinja
from litestar.response import Redirect, Response, Template
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import Feature
from core.queue.worker import EmbeddedWorker
from core.runtime import Runtime
from core.settings import Settings, load_settings
from web import access, i18n
from web.auth import (
    CookieCSRFMiddleware,
    PasswordChangeRequired,
    RotatingSessionBackend,
    RotatingSessionConfig,
    StaffAuthMiddleware,
    StaffUser,
    access_guard,
    retrieve_staff,
)
from web.controllers.admin import ADMIN_CONTROLLERS
from web.controllers.admin_accounts import AdminAccountsController
from web.controllers.admin_media import AdminMediaController
from web.controllers.admin_publishing import AdminPublishingController
from web.controllers.api_me import MeApiController
from web.controllers.api_media import MediaApiController
from web.controllers.api_personas import PersonaApiController
from web.controllers.api_publishing import PublishingApiController
from web.controllers.api_staff import StaffApiController
from web.controllers.health import health
from web.controllers.public_media import PublicMediaController
from web.headers import add_security_headers
from web.labels import LABELS
from web.ratelimit import LoginThrottle
from web.simulated import SimulatedNetworks

HERE = Path(__file__).parent
SESSION_MAX_AGE = 12 * 3600


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back otherwise."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.session() as session:
        yield session


def _jinja_environment(settings: Settings, oauth_channels: frozenset[str] = frozenset()) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local"] = i18n.format_local
    env.filters["number"] = i18n.format_number
    env.globals["current_locale"] = i18n.current_locale
    env.globals["locales"] = i18n.LOCALES
    env.globals["simulated_networks"] = settings.simulated_networks
    #: channels whose plugin connects accounts through OAuth (the others get no "Connect" button)
    env.globals["oauth_channels"] = oauth_channels
    env.globals.update(LABELS)
    return env


async def _choose_locale(request: Request[Any, Any, Any]) -> None:
    # async on purpose: a sync hook may run in a worker thread, where the ContextVar would be lost
    # The cookie is set from the staff member's saved choice at login, and on every switch.
    user = request.scope.get("user")
    chosen = (
        request.cookies.get(i18n.LOCALE_COOKIE)
        or (user.locale if isinstance(user, StaffUser) else None)
        or i18n.negotiate(request.headers.get("accept-language"))
    )
    i18n.set_locale(chosen or i18n.DEFAULT_LOCALE)


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(("/api", "/schema", "/health"))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException) and _wants_html(request):
        return Redirect(f"/login?next={request.url.path}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and _wants_html(request):
        return Redirect("/admin/me/password", status_code=303)
    if _wants_html(request):
        return Template(
            "admin/error.html", context={"status": exc.status_code, "detail": exc.detail}, status_code=exc.status_code
        )
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Logged with its stack trace; the user sees none of it.
    request.logger.exception("unhandled error", exc_info=exc)
    if _wants_html(request):
        return Template("admin/error.html", context={"status": 500, "detail": None}, status_code=500)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=HTTP_500_INTERNAL_SERVER_ERROR)


def _oauth_channels(runtime: Runtime) -> frozenset[str]:
    return frozenset(key for key, plugin in runtime.channels.items() if plugin.capabilities.supports(Feature.OAUTH))


async def _start_simulated_networks(runtime: Runtime) -> SimulatedNetworks:
    simulated = SimulatedNetworks()
    runtime.base_url_overrides.update(simulated.start())
    runtime.channel_overrides.update(simulated.oauth_settings())
    await simulated.connect_accounts(runtime)
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
            max_age=SESSION_MAX_AGE, httponly=True, samesite="lax", secure=settings.cookie_secure, key="pv_session"
        ),
        authentication_middleware_class=StaffAuthMiddleware,
        exclude=["^/static/", "^/schema", "^/health$", "^/login$", "^/media/"],
    )
    # one client for sessions and the login throttle (connections open lazily, on the serving loop)
    redis = Redis.from_url(runtime.redis_url)
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="pv_csrf",
        header_name="x-csrftoken",
        cookie_secure=settings.cookie_secure,
    )
    return Litestar(
        route_handlers=[
            PublicMediaController,
            health,
            *ADMIN_CONTROLLERS,
            AdminPublishingController,
            AdminAccountsController,
            AdminMediaController,
            PersonaApiController,
            MediaApiController,
            PublishingApiController,
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
        dependencies={"db_session": Provide(provide_db_session)},
        on_app_init=[session_auth.on_app_init],
        stores={"sessions": RedisStore(redis, namespace="portevoix:sessions")},
        # CSRF as a middleware after authentication (not csrf_config): it must know a token authenticated the request
        middleware=[DefineMiddleware(CookieCSRFMiddleware, config=csrf)],
        guards=[access_guard],
        before_send=[add_security_headers],
        template_config=TemplateConfig(
            instance=Jinja.from_environment(_jinja_environment(settings, _oauth_channels(runtime)))
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
        ),
        before_request=_choose_locale,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=[lifespan],
        state=State({"runtime": runtime, "login_throttle": LoginThrottle(redis)}),
        debug=False,
        signature_namespace={"AsyncSession": AsyncSession, "StaffUser": StaffUser},
    )
