"""Two-factor login for staff: time-based one-time codes (TOTP, RFC 6238) from an
authenticator app, and recovery codes for a lost phone.

- Enrolment: the account page shows a secret (QR code and text); it is kept on the account
  at once, so a reload shows the same one, but it counts only once the person has typed a
  current code. Then ten recovery codes are shown, once.
- Login: after the right password, an account with two-factor login is half logged in: the
  session cookie (encrypted) holds only `PENDING_KEY` — account, session generation, time —
  which service.auth does not read, so it opens nothing. Within `PENDING_LIFETIME` a current
  code or an unused recovery code completes the login.
- A code is taken once: the account keeps the time step of the last code used, and a code
  is accepted only for a later step, in one UPDATE (two requests with one code at once: one
  wins). A recovery code is marked used the same way.
- Recovery codes are 16 characters from 31 (≈ 79 bits) and kept as SHA-256: a slow hash like
  argon2 protects secrets people choose, which are few enough to try; 2^79 codes are not.
- Wrong codes count toward the per-account login limit (service.login_limit), so that
  someone who knows the password has ten guesses in a quarter of an hour, not a million.
- An admin may require two-factor login for admins and organisers: a password login of such
  an account without it leads to the set-up page before anything else (service.auth). API
  tokens are not affected.

The secret itself is kept in the database as it is (it is needed to check codes): a copy of
the database holds it, as it holds the password hashes; backups are to be kept as carefully.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import pyotp
from pyotp.exceptions import OTPVerificationError

from service import audit, login_limit, staff_queries, tokens
from service.auth import StaffUser, verify_password
from service.errors import FieldErrors
from service.i18n import gettext as _
from service.two_factor import queries

ISSUER = "tagung"  # the name the authenticator app shows above the account
# One step (30 s) either side of now: a phone's clock may be a little off, and a code typed
# just before it changed is still taken.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 16
PENDING_KEY = "two_factor_pending"
PENDING_LIFETIME = 5 * 60  # seconds from the password to the code
ROLES_IT_MAY_BE_REQUIRED_FOR = ("admin", "organiser")

# How a login or a check was completed (audit details, and the reason for a refusal).
TOTP, RECOVERY_CODE, CODE_USED = "totp", "recovery_code", "used"


# ── secrets, codes, recovery codes ──────────────────────────────────────────────────────────


def new_secret() -> str:
    """160 random bits in base32, the size RFC 4226 recommends."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address the QR code holds for the authenticator app."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def secret_for_typing(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step a 6-digit code belongs to (now or one step either side), or None."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isdigit():
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            digits, for_time=time.time() if now is None else now, valid_window=VALID_WINDOW
        )
    except OTPVerificationError:
        return None


def new_recovery_codes() -> list[str]:
    """Codes to show once, as XXXX-XXXX-XXXX-XXXX from the alphabet of tickets (no 0/O, 1/I/L;
    case and hyphens do not matter when typed back)."""
    return [
        tokens.grouped("".join(secrets.choice(tokens.ALPHABET) for _ in range(16)))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def recovery_digest(code: str) -> bytes:
    return hashlib.sha256(tokens.normalise(code).encode()).digest()


def _looks_like_recovery_code(code: str) -> bool:
    cleaned = tokens.normalise(code)
    return len(cleaned) == RECOVERY_CODE_LENGTH and all(c in tokens.ALPHABET for c in cleaned)


async def _take_code(db: asyncpg.Connection, staff_id: int, secret: str, code: str) -> str | None:
    """TOTP or RECOVERY_CODE when `code` is good and has now been used up; CODE_USED for a
    right code whose time step was used already; None for a wrong one. Run in a transaction
    with what the code allows."""
    step = matching_step(secret, code)
    if step is not None:
        return TOTP if await queries.take_step(db, staff_id, step) else CODE_USED
    if _looks_like_recovery_code(code) and await queries.use_recovery_code(
        db, staff_id, recovery_digest(code)
    ):
        return RECOVERY_CODE
    return None


def wrong_code_message(outcome: str | None) -> str:
    if outcome == CODE_USED:
        return _("This code has been used already. Please wait for the next code in your app.")
    return _(
        "This code is not correct. Please enter the current 6-digit code from your "
        "authenticator app, or one of your recovery codes."
    )


# ── the half-logged-in state of a login ─────────────────────────────────────────────────────


@dataclass(frozen=True)
class Pending:
    staff_id: int
    generation: int
    next: str


def pending_session(staff_id: int, generation: int, next_path: str) -> dict[str, Any]:
    """The whole session after the right password of an account with two-factor login: no
    staff id where service.auth looks for one, so it authenticates nothing."""
    state = {"id": staff_id, "generation": generation, "at": time.time(), "next": next_path}
    return {PENDING_KEY: state}


def pending_of(session: dict[str, Any] | None) -> Pending | None:
    """The pending login of a session while it is younger than PENDING_LIFETIME."""
    try:
        state = (session or {})[PENDING_KEY]
        age = time.time() - float(state["at"])
        pending = Pending(int(state["id"]), int(state["generation"]), str(state["next"]))
    except (KeyError, TypeError, ValueError):
        return None
    # The cookie is encrypted: the time in it is the server's own.
    return pending if 0 <= age <= PENDING_LIFETIME else None


async def pending_account(db: asyncpg.Connection, pending: Pending) -> asyncpg.Record | None:
    """The account of a pending login, unless its password changed, it was deactivated or
    two-factor login was turned off since the password was checked."""
    row = await queries.state(db, pending.staff_id)
    if row is None or row["session_generation"] != pending.generation:
        return None
    return row if row["totp_enabled_at"] is not None else None


async def complete_login(db: asyncpg.Connection, account: asyncpg.Record, code: str) -> str | None:
    """Takes the code (see _take_code) and, if it was good, records the login in the same
    transaction."""
    async with db.transaction():
        outcome = await _take_code(db, account["id"], account["totp_secret"], code)
        if outcome in (TOTP, RECOVERY_CODE):
            await record_login(db, _actor(account), outcome)
    return outcome


# ── the login as a whole ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AfterPassword:
    account: StaffUser
    two_factor_on: bool  # a code is needed before the login is complete
    must_set_up: bool  # the installation requires two-factor login, and it is not on yet


async def after_password(db: asyncpg.Connection, staff_id: int) -> AfterPassword | None:
    """What comes after the right password (None: the account went away meanwhile)."""
    row = await queries.state(db, staff_id)
    if row is None:
        return None
    on = row["totp_enabled_at"] is not None
    must = not on and await required_for(db, row["role"])
    return AfterPassword(_actor(row), on, must)


async def record_login(db: asyncpg.Connection, actor: StaffUser, method: str) -> None:
    await audit.record(db, "staff.login", actor=actor, details={"method": method})


async def record_failed_login(db: asyncpg.Connection, email_typed: str, step: str) -> None:
    """A failed login names no account (the address may belong to none): the address as typed
    is its label, which the retention purge removes."""
    await audit.record(
        db,
        "staff.login_failed",
        actor=None,
        actor_label=email_typed.strip()[:200],
        details={"step": step},
    )


def _actor(row: asyncpg.Record) -> StaffUser:
    return StaffUser(id=row["id"], email=row["email"], role=row["role"])


# ── enrolment, recovery codes, turning it off (the account page) ───────────────────────────


class Paused(Exception):
    """Too many failed attempts for this account (service.login_limit)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


async def account_state(db: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    return await queries.state(db, staff_id)


async def enrolment_secret(db: asyncpg.Connection, staff_id: int) -> str | None:
    """The secret to set up the app with (the same on every visit until it is confirmed);
    None when two-factor login is on already."""
    return await queries.keep_candidate_secret(db, staff_id, new_secret())


async def enable(db: asyncpg.Connection, staff: StaffUser, code: str) -> list[str]:
    """Turns two-factor login on once `code` proves the app has the secret shown; returns
    the recovery codes to show once. FieldErrors naming `code` otherwise."""
    row = await queries.state(db, staff.id)
    if row is None or row["totp_enabled_at"] is not None or row["totp_secret"] is None:
        raise FieldErrors(
            {"code": _("Two-factor login is already on for your account.")}, taken=True
        )
    step = matching_step(row["totp_secret"], code)
    if step is None:
        raise FieldErrors(
            {
                "code": _(
                    "This code is not correct. Please enter the 6-digit code your app shows "
                    "now; if it keeps failing, check that the phone's time is set automatically."
                )
            }
        )
    codes = new_recovery_codes()
    async with db.transaction():
        if not await queries.enable(db, staff.id, row["totp_secret"], step):
            raise FieldErrors(
                {"code": _("Two-factor login is already on for your account.")}, taken=True
            )
        await queries.replace_recovery_codes(db, staff.id, [recovery_digest(c) for c in codes])
        await audit.own_account(db, "staff.two_factor_enabled", staff)
    return codes


async def _take_attempt(db: asyncpg.Connection, email: str) -> None:
    attempt = await login_limit.take_attempt(db, email)
    if not attempt.allowed:
        raise Paused(attempt.retry_after)


async def renew_recovery_codes(db: asyncpg.Connection, staff: StaffUser, code: str) -> list[str]:
    """New recovery codes (the old ones stop working) for a current code."""
    await _take_attempt(db, staff.email)
    codes = new_recovery_codes()
    async with db.transaction():
        row = await queries.state(db, staff.id)
        if row is None or row["totp_enabled_at"] is None:
            raise FieldErrors(
                {"code": _("Two-factor login is not on for your account.")}, taken=True
            )
        outcome = await _take_code(db, staff.id, row["totp_secret"], code)
        if outcome not in (TOTP, RECOVERY_CODE):
            raise FieldErrors({"code": wrong_code_message(outcome)})
        await queries.replace_recovery_codes(db, staff.id, [recovery_digest(c) for c in codes])
        await audit.own_account(db, "staff.recovery_codes_renewed", staff)
    await login_limit.forget_attempts(db, staff.email)
    return codes


async def disable(
    db: asyncpg.Connection, staff: StaffUser, password: str, code: str, password_hash: str | None
) -> None:
    """Turns two-factor login off for the password and a current code (or a recovery code).
    Both count toward the account's login limit: a session left open must not become a way to
    guess the password."""
    await _take_attempt(db, staff.email)
    errors: dict[str, str] = {}
    if not await verify_password(password_hash, password):
        errors["password"] = _("The password is not correct.")
    async with db.transaction():
        row = await queries.state(db, staff.id)
        if row is None or row["totp_enabled_at"] is None:
            raise FieldErrors(
                {"code": _("Two-factor login is not on for your account.")}, taken=True
            )
        # The code is checked even after a wrong password, but only used up with the right one.
        outcome = await _take_code(db, staff.id, row["totp_secret"], code)
        if outcome not in (TOTP, RECOVERY_CODE):
            errors["code"] = wrong_code_message(outcome)
        if errors:
            raise FieldErrors(errors)
        await queries.disable(db, staff.id)
        await audit.own_account(db, "staff.two_factor_disabled", staff)
    await login_limit.forget_attempts(db, staff.email)


async def turn_off_for(db: asyncpg.Connection, email: str) -> bool | None:
    """Two-factor login off for an account whose person lost both the phone and the recovery
    codes (`tagung staff two-factor-off`: whoever has a shell may change the database anyway).
    None: no such account; False: it was off."""
    account = await staff_queries.by_email(db, email.strip().lower())
    if account is None:
        return None
    async with db.transaction():
        if not await queries.disable(db, account["id"]):
            return False
        await audit.record(
            db,
            "staff.two_factor_disabled",
            actor=None,
            actor_label="tagung staff two-factor-off",
            subject_type="staff",
            subject_id=account["id"],
            subject_label=account["email"],
        )
    return True


# ── the installation's requirement ──────────────────────────────────────────────────────────


async def required(db: asyncpg.Connection) -> bool:
    return await queries.require_two_factor(db)


async def required_for(db: asyncpg.Connection, role: str) -> bool:
    return role in ROLES_IT_MAY_BE_REQUIRED_FOR and await queries.require_two_factor(db)


async def set_required(db: asyncpg.Connection, staff: StaffUser, value: bool) -> None:
    """Sets whether admins and organisers must use two-factor login; recorded when it
    changes. It applies from their next login with a password."""
    async with db.transaction():
        before = await queries.set_require_two_factor(db, value)
        if before != value:
            await audit.record(db, "settings.updated", actor=staff, fields=["require_two_factor"])
