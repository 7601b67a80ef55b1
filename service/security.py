"""Security headers on every answer, cookie flags, and an API documentation page without
inline script.

The headers are added by one Litestar `before_send` hook, which sees every response the app
sends — pages, JSON, static files, and the errors Litestar answers before any route is found
(404, 405) — and adds each header only where the handler did not set its own (the floor plan
SVG keeps its narrower policy).

Pages load scripts and styles only from this site (`script-src 'self'`, `style-src 'self'`):
no inline `<script>`, no `<style>` blocks, no `style=""` attributes. An injected tag can
therefore run nothing. No page may be framed (clickjacking on staff pages). No Referer leaves a
page: self-service addresses (`/r/{token}`, `/x/{token}`) are personal keys, and a Referer
would carry them to an exhibitor's website, a proxy's log or wherever a link leads.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from service.settings import Settings

SCANNER_PAGE = "/scan"
SCHEMA_PAGE = "/schema"


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",  # data: for the icons in Swagger UI's stylesheet
    "font-src": "'self'",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
CONTENT_SECURITY_POLICY = _policy(_DIRECTIVES)
# The scanner's fallback decoder (zxing, vendored) is WebAssembly, which a policy without
# 'unsafe-eval' may only compile with 'wasm-unsafe-eval'; it allows no eval() of strings.
SCANNER_CONTENT_SECURITY_POLICY = _policy(
    {**_DIRECTIVES, "script-src": "'self' 'wasm-unsafe-eval'"}
)

# No page uses these; only the scanner page may ask for the camera.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
SCANNER_PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # frame-ancestors 'none' for browsers without CSP level 2
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000"


def uses_https(settings: Settings) -> bool:
    """Cookies are Secure and HSTS is sent when the site's own address is https."""
    return settings.base_url.startswith("https://")


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def headers_for(path: str, https: bool) -> list[tuple[str, str]]:
    """The security headers of an answer to `path`."""
    if _is_under(path, SCANNER_PAGE):
        policy, permissions = SCANNER_CONTENT_SECURITY_POLICY, SCANNER_PERMISSIONS_POLICY
    else:
        policy, permissions = CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
    headers = [
        ("content-security-policy", policy),
        ("permissions-policy", permissions),
        *COMMON_HEADERS.items(),
    ]
    if https:
        headers.append(("strict-transport-security", HSTS))
    return headers


def security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    """The `before_send` hook that adds the headers to every response of the app."""
    https = uses_https(settings)
    scanner, other = headers_for(SCANNER_PAGE, https), headers_for("/", https)

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        wanted = scanner if _is_under(scope.get("path", "/"), SCANNER_PAGE) else other
        headers = MutableScopeHeaders.from_message(message)
        present = {name.lower() for name in headers}
        for name, value in wanted:
            if name not in present:  # a handler's own, narrower policy stays
                headers.add(name, value)

    return add_security_headers


class SwaggerWithoutInlineScript(SwaggerRenderPlugin):
    """Litestar's Swagger UI page starts the UI with an inline script holding the whole
    schema; this page loads the schema from /schema/openapi.json and starts the UI from a
    static file instead (service/static/js/swagger-init.js), so the page runs under a
    policy without inline script. Swagger UI's OAuth2 redirect page (inline script, and no
    use here: the API takes bearer tokens) is not served."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(openapi_schema["info"]["title"])
        csrf = request.app.csrf_config
        csrf_attributes = (
            f' data-csrf-cookie="{csrf.cookie_name}" data-csrf-header="{csrf.header_name}"'
            if csrf and not csrf.cookie_httponly
            else ""
        )
        return (
            "<!DOCTYPE html>"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title>{self.favicon}"
            f'<link href="{self.css_url}" rel="stylesheet">'
            f'<script src="{self.js_url}" defer></script>'
            '<script src="/static/js/swagger-init.js" defer></script>'
            '</head><body><div id="swagger-container"'
            f' data-schema-url="{SCHEMA_PAGE}/openapi.json"{csrf_attributes}>'
            "</div></body></html>"
        ).encode()

    def receive_router(self, router: Any) -> None:
        return None
