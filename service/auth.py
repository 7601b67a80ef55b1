"""Who is calling: staff by signed session cookie or by API token, and role guards.

Passwords are hashed with argon2; API tokens are random and only their SHA-256 is stored,
so a leaked database does not leak usable tokens. Sessions are encrypted cookies (no server
memory), so any number of processes can serve the same staff member. A cookie cannot be taken
back, so each one carries the account's session generation and its login time: logout, a new
password and deactivation raise the generation, which ends every session of the account at
once, and a session ends `SESSION_LIFETIME` after its login however busy it is (the cookie's
own expiry, renewed with each answer, is the idle timeout).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from service import staff_queries
from service.db import request_connection
from service.i18n import gettext as _

ROLES = ("admin", "organiser", "scanner")
ROLE_RANK = {"scanner": 1, "organiser": 2, "admin": 3}
SESSION_KEY = "staff_id"
SESSION_GENERATION = "generation"
SESSION_LOGIN_AT = "login_at"  # seconds since the epoch
SESSION_LIFETIME = timedelta(hours=12)
# Set in a session by a password login that must set up two-factor login before anything
# else (the installation requires it for the account's role; service.two_factor).
SESSION_TWO_FACTOR_SETUP = "two_factor_setup"
TWO_FACTOR_SETUP_PAGE = "/staff/account/two-factor"
TOKEN_PREFIX = "tg_"  # noqa: S105 - a visible prefix, not a secret
# A paired door device's token (registration/entrance/devices.py): its own prefix, so that a
# request is looked up in the one table that can know it.
DEVICE_TOKEN_PREFIX = "tgd_"  # noqa: S105 - a visible prefix, not a secret
# In a route's `opt`: a door device may call it (with the scanner role, for its conference).
# Every other guarded route answers a device 403.
FOR_DOOR_DEVICES = {"door_device": True}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffUser:
    id: int | None  # None for a paired door device
    email: str
    role: str
    # Which device or browser session acts: "token:<id>", "session:<staff id>" or, for a
    # paired door device, "device:<id>". Scans are recorded per device, and a retried scan is
    # recognised by (device, nonce).
    device: str = ""
    # The conferences (ids) this account may see and change; None: all of them.
    conferences: frozenset[int] | None = None
    # A paired door device (no account; `id` is None then, `email` is the device's name).
    device_id: int | None = None

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def may_see(self, conference_id: int) -> bool:
        """Whether this account may see (and, with its role, change) the conference."""
        return self.conferences is None or conference_id in self.conferences


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_api_token() -> tuple[str, bytes]:
    """A token to hand out once, and the digest that is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def new_device_token() -> tuple[str, bytes]:
    """A door device's token, handed to the device once when it pairs, and its digest."""
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _staff_user(row: asyncpg.Record | None) -> StaffUser | None:
    if row is None:
        return None
    values = dict(row)
    if values["conferences"] is not None:  # None: all conferences
        values["conferences"] = frozenset(values["conferences"])
    return StaffUser(**values)


async def staff_by_token(db: asyncpg.Connection, token: str) -> StaffUser | None:
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return door_device(await staff_queries.device_by_token_digest(db, token_digest(token)))
    return _staff_user(await staff_queries.by_token_digest(db, token_digest(token)))


async def staff_by_id(db: asyncpg.Connection, staff_id: int, generation: int) -> StaffUser | None:
    """The account of a session, while the session's generation is still the account's."""
    return _staff_user(await staff_queries.by_session(db, staff_id, generation))


def unknown_token_message(token: str) -> str:
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return _("This device has been removed by the organisers. Ask them to set it up again.")
    return _("This API token is unknown or revoked.")


def door_device(row: asyncpg.Record | None) -> StaffUser | None:
    """A paired door device as a caller: a scanner for its one conference, named by its door,
    with no account behind it."""
    if row is None:
        return None
    return StaffUser(
        id=None,
        email=row["name"],
        role="scanner",
        device=f"device:{row['id']}",
        conferences=frozenset({row["conference_id"]}),
        device_id=row["id"],
    )


def new_session(staff_id: int, generation: int) -> dict[str, int | float]:
    """What a login puts into the session cookie."""
    return {SESSION_KEY: staff_id, SESSION_GENERATION: generation, SESSION_LOGIN_AT: time.time()}


def _session_of(session: dict) -> tuple[int, int] | None:
    """(staff id, generation) of a session within its lifetime, else None. Sessions from
    before generations were kept have none and end here too."""
    try:
        staff_id = int(session[SESSION_KEY])
        generation = int(session[SESSION_GENERATION])
        age = time.time() - float(session[SESSION_LOGIN_AT])
    except (KeyError, TypeError, ValueError):
        return None
    # The cookie is encrypted, so the login time is the server's own.
    if age > SESSION_LIFETIME.total_seconds():
        return None
    return staff_id, generation


def _csrf_header_matches(connection: ASGIConnection) -> bool:
    cookie = connection.cookies.get("csrftoken", "")
    header = connection.headers.get("x-csrftoken", "")
    return bool(cookie) and hmac.compare_digest(cookie, header)


def bearer_token(connection: ASGIConnection) -> str | None:
    """The API token of an `Authorization: Bearer …` header; None without the header."""
    authorization = connection.headers.get("authorization", "")
    if not authorization:
        return None
    scheme, _sep, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException(_("Send the API token as 'Authorization: Bearer …'."))
    return token.strip()


async def authenticate(connection: ASGIConnection) -> StaffUser | None:
    """The staff member behind this request, or None. Cached on the request."""
    if "staff" in connection.state:
        return connection.state.staff
    staff = None
    pool: asyncpg.Pool = connection.app.state.pool
    timeout = connection.app.state.settings.db_connect_timeout
    token = bearer_token(connection)
    if token is not None:
        async with request_connection(connection.scope, pool, timeout) as db:
            staff = await staff_by_token(db, token)
        if staff is None:
            raise NotAuthorizedException(unknown_token_message(token))
    elif connection.scope.get("session") and connection.session.get(SESSION_KEY):
        session = _session_of(connection.session)
        if session is not None:
            async with request_connection(connection.scope, pool, timeout) as db:
                staff = await staff_by_id(db, *session)
        if staff is None:
            # Ended or too old: the cookie goes with this answer instead of being renewed.
            connection.clear_session()
        # The JSON API skips the form CSRF check; a cookie-authenticated change must carry
        # the CSRF header, so that another site cannot make a logged-in browser send it.
        is_api = connection.url.path.startswith("/api/")
        unsafe = connection.scope["method"] not in SAFE_METHODS
        if staff and is_api and unsafe and not _csrf_header_matches(connection):
            raise PermissionDeniedException(_("Missing CSRF token."))
    connection.state.staff = staff
    return staff


Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


class TwoFactorSetupRequired(PermissionDeniedException):
    """A session whose account must set up two-factor login first: a page sends it to the
    set-up page (service.errors follows `redirect_to` on a GET), the API answers 403."""

    redirect_to = TWO_FACTOR_SETUP_PAGE


def _two_factor_setup_pending(connection: ASGIConnection, staff: StaffUser) -> bool:
    # Only a browser session carries the mark; API tokens stay as they are.
    return staff.device.startswith("session:") and bool(
        connection.session.get(SESSION_TWO_FACTOR_SETUP)
    )


def requires(role: str, *, during_two_factor_setup: bool = False) -> Guard:
    """A guard that lets through staff with `role` or a higher one; a session that must set up
    two-factor login first only where `during_two_factor_setup` (the set-up page itself)."""

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        staff = await authenticate(connection)
        if staff is None:
            raise NotAuthorizedException(
                _("Please log in, or send a valid API token."),
                headers={"WWW-Authenticate": "Bearer"},
            )
        if staff.device_id is not None and not handler.opt.get("door_device"):
            raise PermissionDeniedException(_("A door device may only scan tickets."))
        if not staff.has_role(role):
            raise PermissionDeniedException(_("Your account may not do this."))
        if not during_two_factor_setup and _two_factor_setup_pending(connection, staff):
            raise TwoFactorSetupRequired(_("Please set up two-factor login first."))

    guard.__name__ = f"requires_{role}"
    return guard


async def scanner_or_token_checked_by_handler(
    connection: ASGIConnection, handler: BaseRouteHandler
) -> None:
    """The door's guard: a Bearer token passes unchecked, because the scan's one statement
    checks it (`checkin_scan_by_token`) and a separate lookup would cost a database round trip
    per scan; a session is checked as `requires("scanner")` does. Every role may scan, so a
    known token is all the statement has to check."""
    if bearer_token(connection) is None:
        await _scanner_guard(connection, handler)


_scanner_guard = requires("scanner")

# Guarded handlers declare `staff: CurrentStaff` to receive the caller.
CurrentStaff = NamedDependency[StaffUser]


def provide_staff(request: ASGIConnection) -> StaffUser:
    """Dependency `staff` for guarded handlers."""
    return request.state.staff
