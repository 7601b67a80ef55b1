"""Rate limits per client address, counted in PostgreSQL so that all processes share them.

Each limit adds its own name to the key, so the login limit and the registration limit do
not eat into each other; the link routes share one name, so they share one count.
"""

from __future__ import annotations

import time

from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.types import Middleware, Receive, Scope, Send

# Counts the request and returns the count in one statement: concurrent requests in any number
# of processes queue on the row, and each sees its own number. A window starts with a client's
# first request and lasts the limit's unit, as in Litestar's middleware. Counts stop at
# limit + 1: refused requests need not be told apart.
COUNT = """
INSERT INTO rate_limit AS r (key, window_ends_at, hits)
VALUES ($1, now() + make_interval(secs => $2), 1)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN r.window_ends_at > now() THEN least(r.hits, $3) + 1 ELSE 1 END,
    window_ends_at = CASE WHEN r.window_ends_at > now() THEN r.window_ends_at
                          ELSE excluded.window_ends_at END
RETURNING hits, ceil(extract(epoch FROM r.window_ends_at - now()))::int AS reset_in
"""
# Rows of clients that did not come back; each process sweeps now and then.
SWEEP = "DELETE FROM rate_limit WHERE window_ends_at < now()"
SWEEP_EVERY = 600.0
_next_sweep = 0.0


class AtomicRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's RateLimitMiddleware reads the count from its store and writes it back, under
    a lock that covers one route in one process; a rush over two processes (or over the link
    routes, which share a count) passed the limit many times over, and a store cannot make
    that read-modify-write atomic. Same configuration, 429 and RateLimit-* headers as
    Litestar's; only the counting is replaced, by one statement (COUNT)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        global _next_sweep
        app = scope["litestar_app"]
        request: Request = app.request_class(scope)
        if await self.should_check_request(request=request):
            pool = app.state.pool
            key = self.get_identifier_for_request(request)
            window = DURATION_VALUES[self.unit]
            hits, reset_in = await pool.fetchrow(COUNT, key, window, self.max_requests)
            if time.monotonic() >= _next_sweep:
                _next_sweep = time.monotonic() + SWEEP_EVERY
                await pool.execute(SWEEP)
            # Litestar's headers count the history's entries: one per request in the window.
            counted = CacheObject(history=[0] * hits, reset=int(time.time()) + reset_in)
            if hits > self.max_requests:
                raise TooManyRequestsException(
                    headers=self.create_response_headers(counted)
                    if self.config.set_rate_limit_headers
                    else None
                )
            if self.config.set_rate_limit_headers:
                send = self.create_send_wrapper(send=send, cache_object=counted)
        await self.app(scope, receive, send)


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
        identifier_for_request=identifier,
        check_throttle_handler=enabled,
        middleware_class=AtomicRateLimitMiddleware,
    )
    return config.middleware
