"""Languages: German first, English second, through Babel catalogues in service/locale.

The language of a request comes from `?lang=`, then the `lang` cookie, then Accept-Language,
then German. It lives in a context variable, so templates, forms and error handlers all see it.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from functools import cache, lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from babel.core import negotiate_locale
from babel.dates import format_date, format_time
from babel.support import Translations
from litestar.types import ASGIApp, Message, Receive, Scope, Send

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
COOKIE = "lang"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> Translations:
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def gettext(message: str, **variables: object) -> str:
    text = translations(current_language.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def language_from_accept_header(header: str) -> str | None:
    preferred = []
    for part in header.split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            preferred.append((quality, tag.strip().replace("-", "_")))
    preferred.sort(key=lambda item: -item[0])
    return negotiate_locale([tag for _q, tag in preferred], list(LANGUAGES), sep="_")


def choose_language(query_lang: str | None, cookie_lang: str | None, accept: str) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return candidate
    return language_from_accept_header(accept) or DEFAULT_LANGUAGE


def language_middleware(app: ASGIApp) -> ASGIApp:
    """Sets `current_language` for the request; `?lang=xx` also sets the cookie for later."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header must not break the request
            cookies = SimpleCookie()
        cookie = cookies[COOKIE].value if COOKIE in cookies else None
        language = choose_language(query, cookie, headers.get("accept-language", ""))
        token = current_language.set(language)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and query in LANGUAGES:
                # No script reads it; over https it travels only over TLS.
                value = f"{COOKIE}={language}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
                if scope["app"].state.settings.base_url.startswith("https://"):
                    value += "; Secure"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_cookie)
        finally:
            current_language.reset(token)

    return middleware


def accept_language_middleware(app: ASGIApp) -> ASGIApp:
    """`language_middleware` for a request with no cookie and no query string (a device's scan,
    service/hot_path.py): the language it would choose, from Accept-Language alone, without
    parsing cookies and a query and without wrapping `send` (there is no cookie to set)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        accept = ""
        for name, value in scope["headers"]:
            if name == b"accept-language":
                accept = value.decode("latin-1")  # the last one, as language_middleware's dict
        token = current_language.set(_accepted_language(accept))
        try:
            await app(scope, receive, send)
        finally:
            current_language.reset(token)

    return middleware


@lru_cache(maxsize=256)
def _accepted_language(header: str) -> str:
    # A door device sends the same header on every scan; the cache is bounded whatever comes.
    return choose_language(None, None, header)


# Dates and times, always shown in the conference's time zone.
def format_day(value: datetime, tz: str = "Europe/Berlin") -> str:
    return format_date(value.astimezone(_zone(tz)), format="full", locale=current_language.get())


def format_clock(value: datetime, tz: str = "Europe/Berlin") -> str:
    return format_time(value.astimezone(_zone(tz)), format="short", locale=current_language.get())


def format_moment(value: datetime, tz: str = "Europe/Berlin") -> str:
    # Date and time in the language's own way, without seconds.
    local = value.astimezone(_zone(tz))
    language = current_language.get()
    return (
        f"{format_date(local, format='medium', locale=language)}, "
        f"{format_time(local, format='short', locale=language)}"
    )


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
