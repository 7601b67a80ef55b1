"""create_app(settings) -> Litestar: the shell, with every domain's router mounted."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service import (
    accessibility,
    conferences,
    health,
    hot_path,
    outbox,
    staff,
    team,
)
from service.audit import api as audit_api
from service.audit import pages as audit_pages
from service.auth import provide_staff
from service.db import create_pool, provide_db
from service.errors import exception_handlers, status_for
from service.i18n import accept_language_middleware, language_middleware
from service.live import LiveHub
from service.openapi import ClosedStructs, ProblemResponses
from service.security import SwaggerWithoutInlineScript, security_headers, uses_https
from service.settings import Settings
from service.templating import template_config

log = logging.getLogger("tagung.requests")
STATIC_DIR = Path(__file__).parent / "static"


def request_log_middleware(app: ASGIApp) -> ASGIApp:
    """One line per request: method, route template (never the concrete path, which may hold
    a personal token), status and duration. No addresses, no query strings, no bodies."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status, answered = 500, False

        async def capture(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        try:
            await app(scope, receive, capture)
        except Exception as exc:
            # Raised outside the route's own error handling (a rate limit's 429, the CSRF
            # check's 403): Litestar's outermost handler answers it after this, through
            # service.errors, so the log writes the status that answer will have.
            if not answered:
                status = status_for(exc)
            raise
        finally:
            log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope.get("path_template", "?"),
                status,
                (time.perf_counter() - started) * 1000,
            )

    return middleware


def _key(settings: Settings, purpose: str) -> bytes:
    """Separate keys for separate uses, all derived from SECRET_KEY."""
    return hashlib.sha256(f"{purpose}:{settings.secret_key}".encode()).digest()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    if settings.database_url is None:
        raise RuntimeError("create_app needs settings.database_url (the CLI starts one if unset)")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url,
            size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout,
        )
        app.state.pool = pool
        # This process's one LISTEN connection for every live dashboard (opened on demand).
        app.state.live = LiveHub(settings.database_url, connect_timeout=settings.db_connect_timeout)
        try:
            # The e-mail worker loop of this process, unless settings.run_worker is off.
            async with outbox.background_worker(pool, settings):
                yield
        finally:
            await app.state.live.close()
            await pool.close()

    # Each domain's one wire() registers its mail renderers, handlers and providers (again on
    # every create_app: a second wiring replaces the first) and hands back its router and
    # template folder (service/wiring.py). Only this function (and the CLI) may import the
    # domains; the shell itself knows none of them.
    import exhibitors
    import forums
    import registration

    domains = [domain.wire(settings) for domain in (registration, forums, exhibitors)]
    domain_routers = [domain.router for domain in domains]
    # The door's hot path: routes a device calls with its token at scan rate, as each domain
    # names them (service/hot_path.py).
    device_routes = frozenset().union(*(domain.device_routes for domain in domains))
    template_dirs = [domain.templates for domain in domains]
    # Cookies travel only over TLS when the site is served over https (BASE_URL).
    secure_cookies = uses_https(settings)

    return Litestar(
        route_handlers=[
            health.router,
            accessibility.router,
            staff.router,
            team.wire(settings),  # staff accounts: team, invitations, own account
            conferences.api_router,
            conferences.pages_router,
            *audit_api.CONTROLLERS,
            *audit_pages.CONTROLLERS,
            *domain_routers,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        lifespan=[lifespan],
        state=State({"settings": settings}),
        dependencies={
            "db": Provide(provide_db),
            "staff": Provide(provide_staff, sync_to_thread=False),
        },
        exception_handlers=exception_handlers,
        # CSP, nosniff, no framing, no Referer, … on every answer (service/security.py).
        before_send=[security_headers(settings)],
        middleware=[
            request_log_middleware,
            # A door device's scan (Bearer token, no cookie, no query) skips the session and
            # the language cookie, which have nothing to do for it, and compression below
            # (service/hot_path.py); the scanner page's scans with a cookie pass them all.
            hot_path.by_caller(
                browser=[
                    language_middleware,
                    CookieBackendConfig(
                        secret=_key(settings, "session"),
                        key="tagung_session",
                        max_age=12 * 3600,
                        secure=secure_cookies,
                        httponly=True,
                        samesite="lax",
                    ).middleware,
                ],
                device=[accept_language_middleware],
                routes=device_routes,
            ),
        ],
        csrf_config=CSRFConfig(
            secret=_key(settings, "csrf").hex(),
            cookie_name="csrftoken",
            cookie_secure=secure_cookies,
            cookie_samesite="lax",
            # Readable by script on purpose: scanner.js and the API page send it back in the
            # X-CSRFToken header (double submit); every form carries it in the page anyway.
            cookie_httponly=False,
            # The JSON API is called with tokens by devices and scripts; cookie-authenticated
            # API writes are checked for the CSRF header in service.auth instead.
            exclude=["/api/", "/health", "/schema"],
        ),
        # The OpenAPI document declares every problem answer and which bodies take no extras.
        plugins=[ProblemResponses(), ClosedStructs()],
        template_config=template_config(template_dirs),
        openapi_config=OpenAPIConfig(
            title="tagung",
            version="0.1.0",
            description=(
                "Registration, forums, exhibitor stands, tickets and check-in for "
                "integration conferences. Staff calls carry `Authorization: Bearer <token>` "
                "(from `tagung staff token EMAIL`)."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
            render_plugins=[
                SwaggerWithoutInlineScript(
                    path="/",
                    js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                    css_url="/static/vendor/swagger-ui/swagger-ui.css",
                    favicon="<link rel='icon' href='/static/vendor/swagger-ui/favicon-32x32.png'>",
                )
            ],
        ),
        # Pages, the OpenAPI and the scanner's offline data (≈ 180 kB for 700 tickets) shrink
        # five- to tenfold; small answers (a scan decision) are sent as they are.
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=1000,
            middleware_class=hot_path.CompressionExceptDeviceCalls,
        ),
        # Forms and JSON bodies here are small; a bigger body is refused (413) unread.
        request_max_body_size=1_000_000,
        debug=settings.debug,
    )
