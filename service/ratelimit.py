"""Rate limits per client address, counted in PostgreSQL so that all processes share them.

Litestar keys its counters by middleware class and client only; each limit here adds its own
name to the key, so the login limit and the registration limit do not eat into each other.
"""

from __future__ import annotations

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.types import Middleware


def per_client(name: str, per_minute: int) -> Middleware:
    def identifier(request: Request) -> str:
        return f"{name}:{get_remote_address(request)}"

    def enabled(request: Request) -> bool:
        return request.app.state.settings.rate_limits

    config = RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        identifier_for_request=identifier,
        check_throttle_handler=enabled,
    )
    return config.middleware
