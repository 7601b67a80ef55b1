"""The door's hot path: a device's scan goes past the middleware that only browsers need.

A door device or script sends `POST /api/v1/checkin` with `Authorization: Bearer …`, no cookie
and no query string, up to hundreds of times a minute. For such a request the session has
nothing to read and nothing to renew (no cookie; the scan's own statement checks the token),
the language has no cookie to read and none to set, and compression nothing to do (a decision
is about 300 bytes, under the 1,000-byte minimum), yet each of them parses headers or wraps
`send` on every scan. The form CSRF check already lets every `/api/` path through (its
`exclude` in service/app.py), and a request without cookies carries nothing to forge.

So such a request skips those layers on its way to the same route, with the route's own guard,
middleware (rate limits, `share_connection`) and error handling, and the app's request log and
security headers. Its language comes from Accept-Language alone, which is what
`language_middleware` chooses when there is neither a cookie nor `?lang=`. Every other request,
the scanner page's scans with their session cookie among them, passes every layer as before,
so each answer is the one it was.

Litestar's per-middleware `exclude` and `exclude_opt_key` decide by path or by route; the same
route serves both callers, so the choice is made here, per request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from litestar.middleware.compression import CompressionMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

Middleware = Callable[..., ASGIApp]
# In the request's state when it takes the short way, for the layers inside the route's stack.
DEVICE_CALL = "tagung.device_call"


def is_device_call(scope: Scope, routes: Collection[tuple[str, str]]) -> bool:
    """A Bearer-token call of one of `routes` ((method, path template) pairs) with no cookie
    and no query string: nothing in it is for the session, the language cookie or CSRF."""
    if scope["type"] != "http" or scope.get("query_string"):
        return False
    if (scope["method"], scope.get("path_template")) not in routes:
        return False
    bearer = False
    for name, value in scope["headers"]:
        if name == b"cookie":
            return False
        if name == b"authorization":
            bearer = value[:7].lower() == b"bearer "
    return bearer


def _stack(layers: Sequence[Middleware], app: ASGIApp) -> ASGIApp:
    for layer in reversed(layers):
        app = layer(app=app)
    return app


def by_caller(
    *,
    browser: Sequence[Middleware],
    device: Sequence[Middleware],
    routes: Collection[tuple[str, str]],
) -> Middleware:
    """App middleware: a device call of `routes` passes through `device`, anything else through
    `browser` (both lists outermost first, as Litestar's `middleware`)."""

    def build(app: ASGIApp) -> ASGIApp:
        full, short = _stack(browser, app), _stack(device, app)

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if is_device_call(scope, routes):
                scope.setdefault("state", {})[DEVICE_CALL] = True  # type: ignore[typeddict-item]
                await short(scope, receive, send)
            else:
                await full(scope, receive, send)

        return middleware

    return build


class CompressionExceptDeviceCalls(CompressionMiddleware):
    """Litestar's compression (`CompressionConfig.middleware_class`), which a device call
    skips: it sits inside the route's stack, below `by_caller`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("state", {}).get(DEVICE_CALL):
            await self.app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
