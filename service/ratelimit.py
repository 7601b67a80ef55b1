"""Rate limits per client address, counted in PostgreSQL so that all processes share them.

Litestar keys its counters by middleware class and client only; each limit here adds its own
name to the key, so the login limit and the registration limit do not eat into each other.
"""

from __future__ import annotations

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.types import Middleware


def client_address(request: Request) -> str:
    """The client's address; behind our own reverse proxy (TRUST_PROXY=1) the one it saw,
    which it appends last to X-Forwarded-For — earlier entries come from the client and could
    be forged to dodge the limits."""
    if request.app.state.settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()
    return get_remote_address(request)


def per_client(name: str, per_minute: int) -> Middleware:
    def identifier(request: Request) -> str:
        return f"{name}:{client_address(request)}"

    def enabled(request: Request) -> bool:
        return request.app.state.settings.rate_limits

    config = RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        identifier_for_request=identifier,
        check_throttle_handler=enabled,
    )
    return config.middleware
