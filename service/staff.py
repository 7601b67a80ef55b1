"""Staff accounts: creation (CLI), login and logout pages, API tokens, the staff area shell.

Logout, a new password and deactivation end every session of the account (its session
generation goes up, see service.auth); login is limited per client address and per e-mail
address (service.login_limit).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, Router, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from service import login_limit, staff_queries
from service.auth import (
    ROLES,
    CurrentStaff,
    authenticate,
    hash_password,
    new_api_token,
    new_session,
    requires,
    verify_password,
)
from service.conferences import queries as conference_queries
from service.db import DB
from service.i18n import gettext as _
from service.ratelimit import per_client

# Ten login attempts a minute per client address, counted in PostgreSQL for all processes.
LOGIN_RATE_LIMIT = per_client("login", 10)


class StaffExists(Exception):
    pass


async def create_staff(db: asyncpg.Connection, email: str, role: str, password: str) -> int:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    try:
        return await staff_queries.insert(
            db, email.strip().lower(), role, await hash_password(password)
        )
    except asyncpg.UniqueViolationError:
        raise StaffExists(email) from None


async def set_password(db: asyncpg.Connection, email: str, password: str) -> bool:
    """A new password; every session of the account ends (whoever knew the old one may
    hold one)."""
    status = await staff_queries.set_password(
        db, email.strip().lower(), await hash_password(password)
    )
    return status == "UPDATE 1"


async def deactivate_staff(db: asyncpg.Connection, email: str) -> bool:
    """The account can no longer log in; its sessions end and its API tokens stop working
    (every token lookup asks for an account that is not disabled). False: no such account."""
    status = await staff_queries.deactivate(db, email.strip().lower())
    return status == "UPDATE 1"


async def end_sessions(db: asyncpg.Connection, staff_id: int) -> None:
    """Every session of the account ends, on every device and in every copy of its cookie."""
    await staff_queries.end_sessions(db, staff_id)


async def issue_token(db: asyncpg.Connection, email: str, label: str = "") -> str | None:
    """A new API token for the account, or None if there is no such account."""
    token, digest = new_api_token()
    inserted = await staff_queries.insert_token(db, email.strip().lower(), digest, label)
    return token if inserted else None


async def revoke_token(db: asyncpg.Connection, token_id: int, staff_id: int | None = None) -> bool:
    status = await staff_queries.revoke_token(db, token_id, staff_id)
    return status == "UPDATE 1"


async def _login_check(db: asyncpg.Connection, email: str, password: str) -> tuple[int, int] | None:
    """(staff id, session generation) when the password is right."""
    row = await staff_queries.login_row(db, email.strip().lower())
    ok = await verify_password(row["password_hash"] if row else None, password)
    return (row["id"], row["session_generation"]) if row and ok else None


def _safe_next(target: str | None) -> str:
    # Only paths on this site, never "//elsewhere" or "https://elsewhere".
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/staff"


class LoginPages(Controller):
    path = "/staff"
    include_in_schema = False

    @get("/login")
    async def login_form(self, next: FromQuery[str | None] = None) -> Template:
        return Template("staff/login.html", context={"next": _safe_next(next), "error": None})

    @post("/login", middleware=[LOGIN_RATE_LIMIT])
    async def login(self, request: Request, db: DB) -> Any:
        form = await request.form()
        email, password = form.get("email", ""), form.get("password", "")
        account = None
        if email and password:
            attempt = await login_limit.take_attempt(db, email)
            if not attempt.allowed:
                return self._form_again(
                    form,
                    _(
                        "Too many failed logins with this e-mail address. "
                        "Please wait a quarter of an hour and try again."
                    ),
                    status_code=429,
                    headers={"Retry-After": str(attempt.retry_after)},
                )
            account = await _login_check(db, email, password)
        if account is None:
            return self._form_again(form, _("E-mail address or password is not correct."))
        await login_limit.forget_attempts(db, email)
        request.set_session(new_session(*account))
        return Redirect(_safe_next(form.get("next")))

    @staticmethod
    def _form_again(
        form: Any, error: str, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> Template:
        return Template(
            "staff/login.html",
            context={
                "next": _safe_next(form.get("next")),
                "email": form.get("email", ""),
                "error": error,
            },
            status_code=status_code,
            media_type=MediaType.HTML,
            headers=headers,
        )

    @post("/logout")
    async def logout(self, request: Request, db: DB) -> Redirect:
        # Every session of the account ends, also copies of this cookie elsewhere. A session
        # that has already ended ends nothing (an old copied cookie cannot log others out).
        staff = await authenticate(request)
        if staff is not None and staff.device.startswith("session:"):
            await end_sessions(db, staff.id)
        request.clear_session()
        # The browser forgets what staff pages left behind: the scanner's offline ticket data
        # (names of all attendees) and its cached page.
        return Redirect(
            "/staff/login?logged_out=1", headers={"Clear-Site-Data": '"cache", "storage"'}
        )


class StaffArea(Controller):
    path = "/staff"
    guards = [requires("scanner")]
    include_in_schema = False

    @get("/")
    async def dashboard(self, db: DB, staff: CurrentStaff) -> Template:
        conferences = (
            await conference_queries.list_all(db, staff.conferences)
            if staff.has_role("organiser")
            else []
        )
        return Template(
            "staff/dashboard.html", context={"conferences": conferences, "staff": staff}
        )

    # The API tokens (/staff/tokens) are on one's own account page now: service.team.pages.


router = Router(path="/", route_handlers=[LoginPages, StaffArea])
