"""Errors are data: problem details (RFC 9457) for the API, a friendly page for the site.

Whatever went wrong, nothing half-written stays behind: every change runs in one transaction,
and these handlers only shape the answer.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_409_CONFLICT,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from service import i18n
from service.db import UNAVAILABLE_ERRORS
from service.domain_errors import Conflict, DomainError, FieldErrors, NotFound
from service.i18n import gettext as _
from service.validation import explain

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Seconds a client is asked to wait after a 503 (the database out of reach): about what a
# PostgreSQL restart or a failover takes. Door phones and forms retry the same request then.
RETRY_AFTER_SECONDS = 5


def _as_http(exc: Exception) -> Exception:
    """The one place where what the rules refuse (service.domain_errors) becomes an answer."""
    if isinstance(exc, NotFound):
        return NotFoundException(exc.detail or None)
    if isinstance(exc, FieldErrors):
        return _FieldProblem(exc.errors, HTTP_409_CONFLICT if exc.taken else 400, exc.detail)
    if isinstance(exc, Conflict):
        return HTTPException(status_code=HTTP_409_CONFLICT, detail=exc.detail)
    if isinstance(exc, DomainError):  # a new kind without its own answer yet
        return HTTPException(status_code=HTTP_409_CONFLICT, detail=exc.detail)
    return exc


def status_of(exc: DomainError) -> int:
    """The status a domain error is answered with, for a page that shows it in its own form."""
    answer = _as_http(exc)
    return answer.status_code if isinstance(answer, HTTPException) else 500


class _FieldProblem(HTTPException):
    """FieldErrors as an answer: the fields go into the problem details."""

    def __init__(self, errors: dict[str, str], status_code: int, detail: str) -> None:
        super().__init__(detail=detail, status_code=status_code)
        self.errors = errors


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/health",) or path.startswith("/schema")


def _language(request: Request) -> str:
    # Unknown routes never reach the language middleware, so choose here as well.
    return i18n.choose_language(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language", ""),
    )


def _titles() -> dict[int, str]:
    return {
        400: _("Invalid input"),
        401: _("Login required"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Not possible right now"),
        413: _("Request too large"),
        429: _("Too many attempts"),
        500: _("Internal error"),
        503: _("Service unavailable"),
    }


def _field_errors(exc: Exception) -> list[dict[str, str]]:
    if isinstance(exc, FieldErrors | _FieldProblem):
        return [{"field": name, "message": message} for name, message in exc.errors.items()]
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        found = []
        for item in exc.extra:
            if isinstance(item, dict):
                field, message = explain(item.get("key"), str(item.get("message", "")))
                found.append({"field": field, "message": message})
        return found
    return []


def _problem(request: Request, status: int, detail: str, exc: Exception) -> Response[Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _titles().get(status, _("Error")),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    errors = _field_errors(exc)
    if errors:
        body["errors"] = errors
        body["invalid_params"] = [{"name": e["field"], "reason": e["message"]} for e in errors]
    headers = dict(getattr(exc, "headers", None) or {})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _page(request: Request, status: int, detail: str, exc: Exception) -> Response[Any]:
    if status == 401 and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/staff/login?next={quote(target)}")
    # An exception that names the page to go to first (two-factor set-up, service.auth).
    redirect_to = getattr(exc, "redirect_to", None)
    if redirect_to and request.method == "GET":
        return Redirect(redirect_to)
    return Template(
        "error.html",
        context={"status": status, "title": _titles().get(status, _("Error")), "detail": detail},
        status_code=status,
        media_type=MediaType.HTML,
        # As for the API: the exception's own headers (Allow on a 405, Retry-After …).
        headers=dict(getattr(exc, "headers", None) or {}),
    )


def _detail(exc: Exception, status: int) -> str:
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc)
        return " ".join(f"{e['field']}: {e['message']}" for e in errors) or _("Invalid input.")
    # Litestar's own exceptions carry the bare HTTP phrase ("Not Found"): say it better.
    own_detail = isinstance(exc, HTTPException) and exc.detail != HTTPStatus(status).phrase
    if own_detail and exc.detail and status < 500:
        return exc.detail
    defaults = {
        400: _("Invalid input."),
        401: _("Please log in, or send a valid API token."),
        403: _("Your account may not do this."),
        404: _("There is nothing at this address."),
        405: _("This address does not accept this method."),
        413: _("The request is too large."),
        429: _("Too many attempts. Please wait a minute and try again."),
        503: _("The database cannot be reached right now. Please try again in a moment."),
    }
    return defaults.get(status, _("Something went wrong on our side. Please try again later."))


def _as_body_error(exc: Exception) -> Exception:
    if isinstance(exc, UnicodeDecodeError) or (
        isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException)
    ):
        # Bytes that are no UTF-8 text (msgspec raises UnicodeDecodeError, which Litestar lets
        # through as a 500) or text that is no JSON: a 400 that names the body.
        return FieldErrors(dict([explain("body", str(exc.__cause__ or exc))]))
    if isinstance(exc, RecursionError) and "deserializ" in str(exc):
        # JSON nested deeper than msgspec follows (100,000 `[` fit in 200 KB): Litestar lets
        # msgspec's RecursionError through as a 500.
        return FieldErrors({"body": _("The body is nested too deeply.")})
    if isinstance(exc, ValueError) and "embedded null" in str(exc):
        # `%00` in a path (/static/css/site.css%00.js): the file lookup refuses the name;
        # no file has it.
        return NotFoundException()
    return exc


def status_for(exc: Exception) -> int:
    """The status an error is answered with; the request log writes it for errors raised
    outside a route's own error handling (a middleware's 429, the CSRF check's 403)."""
    exc = _as_http(_as_body_error(exc))
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, asyncpg.NumericValueOutOfRangeError) or (
        # the same, refused by the driver before it reaches the server (an id in the path)
        isinstance(exc, asyncpg.DataError) and isinstance(exc.__cause__, OverflowError)
    ):
        return 404  # an id beyond bigint names nothing that exists
    if isinstance(exc, asyncpg.DataError):
        return 400
    if isinstance(exc, asyncpg.UniqueViolationError | asyncpg.ExclusionViolationError):
        return HTTP_409_CONFLICT
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return HTTP_503_SERVICE_UNAVAILABLE
    return HTTP_500_INTERNAL_SERVER_ERROR


def handle_exception(request: Request, exc: Exception) -> Response[Any]:
    # Set, not reset: the page is rendered after this returns, in the same request context.
    i18n.current_language.set(_language(request))
    exc = _as_http(_as_body_error(exc))
    status = status_for(exc)
    conflict = isinstance(exc, asyncpg.UniqueViolationError | asyncpg.ExclusionViolationError)
    if status == HTTP_503_SERVICE_UNAVAILABLE and not isinstance(exc, HTTPException):
        log.warning("database unavailable: %s", type(exc).__name__)
    elif status == HTTP_500_INTERNAL_SERVER_ERROR and not isinstance(exc, HTTPException):
        # The route template, as the request log writes it: a concrete path may hold a
        # personal token (/r/{token}).
        log.exception(
            "unhandled error on %s %s", request.method, request.scope.get("path_template", "?")
        )
    if conflict:
        detail = _("This conflicts with something that already exists.")
    else:
        detail = _detail(exc, status)
    if _is_api(request):
        response = _problem(request, status, detail, exc)
    else:
        response = _page(request, status, detail, exc)
    if status == HTTP_503_SERVICE_UNAVAILABLE:
        response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response


exception_handlers = {Exception: handle_exception, HTTPException: handle_exception}

__all__ = ["Conflict", "FieldErrors", "NotAuthorizedException", "exception_handlers"]
