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

from service import login_limit, staff_queries, two_factor
from service.auth import (
    ROLES,
    SESSION_TWO_FACTOR_SETUP,
    TWO_FACTOR_SETUP_PAGE,
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
from service.two_factor import pages as two_factor_pages

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
    """The login: e-mail address and password, then for an account with two-factor login a
    code (service.two_factor). Both steps count toward the limits per client address
    (LOGIN_RATE_LIMIT) and per account (service.login_limit)."""

    path = "/staff"
    include_in_schema = False

    @get("/login")
    async def login_form(
        self, next: FromQuery[str | None] = None, expired: FromQuery[str | None] = None
    ) -> Template:
        error = _("The time for entering the code has run out. Please log in again.")
        return Template(
            "staff/login.html",
            context={"next": _safe_next(next), "error": error if expired else None},
        )

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
                    login_limit.paused_message(attempt.retry_after),
                    status_code=429,
                    headers={"Retry-After": str(attempt.retry_after)},
                )
            account = await _login_check(db, email, password)
            if account is None:
                await two_factor.record_failed_login(db, email, "password")
        checked = account and await two_factor.after_password(db, account[0])
        if not checked:
            return self._form_again(form, _("E-mail address or password is not correct."))
        next_path = _safe_next(form.get("next"))
        if checked.two_factor_on:
            # Half logged in: the attempts are forgotten only once the code is right, so that
            # the password does not buy a fresh count of guesses at the code.
            request.set_session(two_factor.pending_session(*account, next_path))
            return Redirect("/staff/login/code")
        await login_limit.forget_attempts(db, email)
        session = new_session(*account)
        async with db.transaction():
            await two_factor.record_login(db, checked.account, "password")
        if checked.must_set_up:
            request.set_session(session | {SESSION_TWO_FACTOR_SETUP: True})
            return Redirect(TWO_FACTOR_SETUP_PAGE)
        request.set_session(session)
        return Redirect(next_path)

    @get("/login/code")
    async def code_form(self, request: Request) -> Any:
        if two_factor.pending_of(request.session) is None:
            return self._back_to_login(request)
        return Template("staff/login_code.html", context={"error": None}, media_type=MediaType.HTML)

    @post("/login/code", middleware=[LOGIN_RATE_LIMIT])
    async def code(self, request: Request, db: DB) -> Any:
        pending = two_factor.pending_of(request.session)
        account = pending and await two_factor.pending_account(db, pending)
        if not account:
            return self._back_to_login(request)
        attempt = await login_limit.take_attempt(db, account["email"])
        if not attempt.allowed:
            return self._code_again(
                login_limit.paused_message(attempt.retry_after),
                status_code=429,
                headers={"Retry-After": str(attempt.retry_after)},
            )
        form = await request.form()
        code = form.get("code") or form.get("recovery_code") or ""
        outcome = await two_factor.complete_login(db, account, code)
        if outcome not in (two_factor.TOTP, two_factor.RECOVERY_CODE):
            await two_factor.record_failed_login(db, account["email"], "code")
            return self._code_again(two_factor.wrong_code_message(outcome))
        await login_limit.forget_attempts(db, account["email"])
        request.set_session(new_session(account["id"], account["session_generation"]))
        if outcome == two_factor.RECOVERY_CODE:
            # Whoever needs a recovery code has likely lost the phone: the account page says
            # how many are left and how to move to a new phone.
            return Redirect(f"{TWO_FACTOR_SETUP_PAGE}?recovery_code_used=1")
        return Redirect(pending.next)

    @staticmethod
    def _back_to_login(request: Request) -> Redirect:
        """No pending login (never one, or its five minutes are over): the password again."""
        session = request.scope.get("session")
        expired = isinstance(session, dict) and two_factor.PENDING_KEY in session
        if expired:
            request.clear_session()  # a pending login holds nothing else; a full one stays
        return Redirect("/staff/login?expired=1" if expired else "/staff/login")

    @staticmethod
    def _code_again(
        error: str, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> Template:
        return Template(
            "staff/login_code.html",
            context={"error": error},
            status_code=status_code,
            media_type=MediaType.HTML,
            headers=headers,
        )

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


# The set-up page of two-factor login and the installation's settings (service.two_factor.pages).
router = Router(path="/", route_handlers=[LoginPages, StaffArea, *two_factor_pages.CONTROLLERS])
