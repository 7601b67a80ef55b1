"""Two-factor login in the web UI and the API: each staff member's set-up page
(/staff/account/two-factor), and the installation's settings (/staff/settings and
/api/v1/settings, admins), where an admin requires two-factor login for admins and organisers.
The rules are in service.two_factor; the login's code step is in service.staff."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get, patch, post
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect, Template
from msgspec import UNSET, Struct, UnsetType

from service import staff_queries, two_factor
from service.auth import (
    SESSION_TWO_FACTOR_SETUP,
    TWO_FACTOR_SETUP_PAGE,
    CurrentStaff,
    StaffUser,
    requires,
)
from service.db import DB
from service.errors import FieldErrors, status_of
from service.i18n import gettext as _
from service.login_limit import paused_message
from service.qr import qr_svg
from service.ratelimit import per_client

# The same count as the login's (service.staff): these forms check a password or a code.
CODE_RATE_LIMIT = per_client("login", 10)
# Secrets and recovery codes stay out of every cache.
NOT_CACHED = {"Cache-Control": "private, no-store"}


def _lift_setup_mark(request: Request) -> None:
    """Two-factor login is on: the session is no longer held on the set-up page."""
    session = request.scope.get("session")
    if isinstance(session, dict) and session.get(SESSION_TWO_FACTOR_SETUP):
        request.set_session({k: v for k, v in session.items() if k != SESSION_TWO_FACTOR_SETUP})


def _setup_required(request: Request) -> bool:
    session = request.scope.get("session")
    return isinstance(session, dict) and bool(session.get(SESSION_TWO_FACTOR_SETUP))


class TwoFactorPages(Controller):
    """Every staff role may turn two-factor login on; this page stays open to a session that
    must set it up first (every other staff page sends it here)."""

    path = TWO_FACTOR_SETUP_PAGE
    guards = [requires("scanner", during_two_factor_setup=True)]
    include_in_schema = False

    @get("/")
    async def page(
        self,
        request: Request,
        db: DB,
        staff: CurrentStaff,
        recovery_code_used: FromQuery[str | None] = None,
    ) -> Template:
        return await self._page(request, db, staff, recovery_code_used=bool(recovery_code_used))

    @post("/")
    async def turn_on(self, request: Request, db: DB, staff: CurrentStaff) -> Template:
        form = await request.form()
        try:
            codes = await two_factor.enable(db, staff, form.get("code") or "")
        except FieldErrors as exc:
            return await self._page(request, db, staff, errors=exc.errors, status=status_of(exc))
        _lift_setup_mark(request)
        return self._codes(codes, renewed=False)

    @post("/recovery-codes", middleware=[CODE_RATE_LIMIT])
    async def renew_recovery_codes(self, request: Request, db: DB, staff: CurrentStaff) -> Template:
        form = await request.form()
        try:
            codes = await two_factor.renew_recovery_codes(db, staff, form.get("code") or "")
        except FieldErrors as exc:
            return await self._page(
                request, db, staff, errors=exc.errors, status=status_of(exc), form="renew"
            )
        except two_factor.Paused as paused:
            return await self._paused(request, db, staff, paused, form="renew")
        return self._codes(codes, renewed=True)

    @post("/disable", middleware=[CODE_RATE_LIMIT])
    async def turn_off(self, request: Request, db: DB, staff: CurrentStaff) -> Any:
        form = await request.form()
        login = await staff_queries.login_row(db, staff.email)
        try:
            await two_factor.disable(
                db,
                staff,
                form.get("password") or "",
                form.get("code") or "",
                login["password_hash"] if login else None,
            )
        except FieldErrors as exc:
            return await self._page(
                request, db, staff, errors=exc.errors, status=status_of(exc), form="disable"
            )
        except two_factor.Paused as paused:
            return await self._paused(request, db, staff, paused, form="disable")
        if staff.device.startswith("session:") and await two_factor.required_for(db, staff.role):
            # Required for this role (a new phone, say): set up again before anything else.
            session = request.scope.get("session")
            request.set_session({**(session or {}), SESSION_TWO_FACTOR_SETUP: True})
        return Redirect(f"{TWO_FACTOR_SETUP_PAGE}?turned_off=1")

    async def _paused(
        self, request: Request, db: DB, staff: StaffUser, paused: two_factor.Paused, form: str
    ) -> Template:
        page = await self._page(
            request, db, staff, errors={"code": paused_message(paused.retry_after)}, form=form
        )
        page.status_code = 429
        page.headers["Retry-After"] = str(paused.retry_after)
        return page

    async def _page(
        self,
        request: Request,
        db: DB,
        staff: StaffUser,
        *,
        errors: dict[str, str] | None = None,
        status: int = 200,
        form: str = "",
        recovery_code_used: bool = False,
    ) -> Template:
        state = await two_factor.account_state(db, staff.id)
        enabled = state is not None and state["totp_enabled_at"] is not None
        context: dict[str, Any] = {
            "staff": staff,
            "state": state,
            "enabled": enabled,
            "errors": errors or {},
            "form": form,
            "recovery_code_used": recovery_code_used,
            "turned_off": bool(request.query_params.get("turned_off")),
            "setup_required": _setup_required(request),
        }
        if enabled:
            # Turned on elsewhere (another browser): this session is not held here either.
            _lift_setup_mark(request)
            context["setup_required"] = False
        else:
            secret = await two_factor.enrolment_secret(db, staff.id)
            if secret is not None:
                uri = two_factor.provisioning_uri(secret, staff.email)
                # Not qr_svg itself: its cache would keep the secret in memory.
                context["qr"] = qr_svg.__wrapped__(uri, _("QR code for your authenticator app"))
                context["secret"] = two_factor.secret_for_typing(secret)
        return Template(
            "staff/two_factor.html",
            context=context,
            status_code=status,
            media_type=MediaType.HTML,
            headers=NOT_CACHED,
        )

    @staticmethod
    def _codes(codes: list[str], renewed: bool) -> Template:
        return Template(
            "staff/two_factor_codes.html",
            context={"codes": codes, "renewed": renewed},
            media_type=MediaType.HTML,
            headers=NOT_CACHED,
        )


# ── the installation's settings (admins) ────────────────────────────────────────────────────

ADMIN = [requires("admin")]


class InstallationSettings(Struct):
    require_two_factor: bool


class InstallationSettingsUpdate(Struct, forbid_unknown_fields=True):
    require_two_factor: bool | UnsetType = UNSET


class SettingsPages(Controller):
    path = "/staff/settings"
    guards = ADMIN
    include_in_schema = False

    @get("/")
    async def page(self, db: DB, saved: FromQuery[str | None] = None) -> Template:
        return Template(
            "staff/settings.html",
            context={"require_two_factor": await two_factor.required(db), "saved": bool(saved)},
        )

    @post("/")
    async def save(self, request: Request, db: DB, staff: CurrentStaff) -> Redirect:
        form = await request.form()
        await two_factor.set_required(db, staff, form.get("require_two_factor") == "yes")
        return Redirect("/staff/settings?saved=1")


class SettingsAPI(Controller):
    path = "/api/v1/settings"
    guards = ADMIN
    tags = ["settings"]
    security = [{"BearerToken": []}]

    @get("/", summary="The installation's settings (admins)")
    async def get_settings(self, db: DB) -> InstallationSettings:
        return InstallationSettings(require_two_factor=await two_factor.required(db))

    @patch("/", summary="Change the installation's settings (admins)")
    async def update_settings(
        self, db: DB, staff: CurrentStaff, data: JSONBody[InstallationSettingsUpdate]
    ) -> InstallationSettings:
        if data.require_two_factor is not UNSET:
            await two_factor.set_required(db, staff, data.require_two_factor)
        return InstallationSettings(require_two_factor=await two_factor.required(db))


CONTROLLERS = [TwoFactorPages, SettingsPages, SettingsAPI]
