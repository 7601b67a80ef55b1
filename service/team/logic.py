"""The rules of staff accounts, shared by the API and the pages; transactions start here.

An admin invites a person (address, role, all conferences or chosen ones); the account exists at
once, without a password ("invited"), and an e-mail carries a link valid for 7 days where the
person sets one ("active"). An admin changes role and conferences, deactivates (every session
and API token ends at once) and reactivates. Anyone may ask for a password-reset link (valid 1
hour); only an active account gets one, and the answer is the same either way. Every link
works once, and only the newest link of its kind is good.

Concurrency: a link is used by one conditional UPDATE (a second use at the same moment waits
for the first and finds it used: 409). A change of an account first takes one advisory lock
for all account changes, then its row lock, and reads the account only then: two admins
changing one account at once take turns and neither change is lost, and two admins demoting
each other cannot both count the other as the administrator who remains. (Changes are rare;
one at a time costs nothing.)

Every change is written to the audit log in its own transaction (service.audit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from service import audit, mail_quota, outbox, tokens
from service.auth import ROLES, StaffUser, hash_password, verify_password
from service.domain_errors import Conflict, FieldErrors, NotFound, WrongState
from service.i18n import current_language
from service.i18n import gettext as _
from service.team import passwords, queries

MAIL_INVITATION = "staff.invitation"
MAIL_PASSWORD_RESET = "staff.password_reset"  # noqa: S105 - a mail kind
INVITATION = "invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a link purpose
VALID_FOR = {INVITATION: timedelta(days=7), PASSWORD_RESET: timedelta(hours=1)}
MAIL_KIND = {INVITATION: MAIL_INVITATION, PASSWORD_RESET: MAIL_PASSWORD_RESET}
STATUSES = ("invited", "active", "deactivated")


@dataclass(frozen=True)
class Person:
    """The account acting on its own link (accepting an invitation, resetting its password),
    as the audit log names an actor."""

    id: int
    email: str
    device_id: None = None


# ── links ───────────────────────────────────────────────────────────────────────────────────


def link_token(key: bytes, purpose: str, salt: bytes) -> str:
    """The token in a link's address, derived from the key and the link's salt (never stored)."""
    return tokens.derive(key, f"staff-{purpose}", salt)


def link_path(purpose: str, token: str) -> str:
    return f"/staff/{'invite' if purpose == INVITATION else 'reset'}/{token}"


async def _new_link(db: asyncpg.Connection, key: bytes, staff_id: int, purpose: str) -> int:
    """A fresh link (the older unused ones stop working) and its mail, in the caller's
    transaction; the mail is written in the language of the request that causes it."""
    await queries.retire_links(db, staff_id, purpose)
    salt = tokens.new_salt()
    digest = tokens.digest(link_token(key, purpose, salt))
    return await queries.insert_link(db, staff_id, purpose, salt, digest, VALID_FOR[purpose])


def invalid_link() -> NotFound:
    # An unknown or mistyped link; a known one that was used or ran out is a Conflict.
    return NotFound(_("This link is not valid. Please check that it is complete."))


class LinkUsed(Conflict):
    """A link used before, run out, replaced by a newer one, or of a deactivated account."""


def _usable(link: asyncpg.Record | None) -> asyncpg.Record:
    if link is None:
        raise invalid_link()
    if link["disabled"]:
        raise LinkUsed(_("This account has been deactivated. Please ask an administrator."))
    if link["used"] or (link["purpose"] == INVITATION and link["has_password"]):
        raise LinkUsed(_("This link has already been used."))
    if link["expired"]:
        raise LinkUsed(
            _("This link has expired.")
            + " "
            + (
                _("Please ask an administrator to send you a new invitation.")
                if link["purpose"] == INVITATION
                else _("Please ask for a new link.")
            )
        )
    return link


async def link_for(db: asyncpg.Connection, token: str, purpose: str) -> asyncpg.Record:
    """The live link behind a token from an address; 404 unknown, 409 used or expired."""
    if not tokens.looks_valid(token):
        raise invalid_link()
    return _usable(await queries.link_by_hash(db, tokens.digest(token), purpose))


# ── invitations and changes (admins) ────────────────────────────────────────────────────────


async def _scope(db: asyncpg.Connection, role: str, slugs: Sequence[str]) -> tuple[bool, list[int]]:
    """(all conferences?, the chosen ids) from a role and a list of slugs (empty: all)."""
    wanted = sorted(set(slugs))
    if not wanted:
        return True, []
    if role == "admin":
        raise FieldErrors(
            {"conferences": _("An administrator always has all conferences. Leave this empty.")}
        )
    found = {row["slug"]: row["id"] for row in await queries.conferences_by_slug(db, wanted)}
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise FieldErrors(
            {"conferences": _("There is no conference %(slugs)s.", slugs=", ".join(unknown))}
        )
    return False, sorted(found.values())


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise FieldErrors({"role": _("Please choose one of the allowed values.")})


async def invite(
    db: asyncpg.Connection,
    key: bytes,
    actor: StaffUser,
    *,
    email: str,
    name: str,
    role: str,
    conferences: Sequence[str],
) -> asyncpg.Record:
    """A new account without a password, and the invitation mail with its link."""
    email = email.strip().lower()
    _check_role(role)
    async with db.transaction():
        all_conferences, conference_ids = await _scope(db, role, conferences)
        try:
            async with db.transaction():  # a savepoint: the duplicate is an answer, not a crash
                staff_id = await queries.insert_invited(
                    db,
                    email=email,
                    name=name.strip(),
                    role=role,
                    all_conferences=all_conferences,
                    invited_by=actor.id,
                )
        except asyncpg.UniqueViolationError:
            raise FieldErrors(
                {"email": _("There is already an account with this e-mail address.")}, taken=True
            ) from None
        await queries.set_conferences(db, staff_id, conference_ids)
        await _send_link(db, key, staff_id, email, INVITATION)
        await audit.record(
            db,
            "staff.invited",
            actor=actor,
            subject_type="staff",
            subject_id=staff_id,
            subject_label=email,
            fields=["email", "name", "role", "conferences"],
            details={"role": role},
        )
        return await queries.member(db, staff_id)


async def _send_link(
    db: asyncpg.Connection, key: bytes, staff_id: int, email: str, purpose: str
) -> None:
    link_id = await _new_link(db, key, staff_id, purpose)
    enqueue = outbox.enqueue if purpose == INVITATION else mail_quota.enqueue
    await enqueue(
        db, MAIL_KIND[purpose], recipient=email, language=current_language.get(), ref_id=link_id
    )


async def resend_invitation(
    db: asyncpg.Connection, key: bytes, actor: StaffUser, staff_id: int
) -> asyncpg.Record:
    async with db.transaction():
        account = await queries.for_update(db, staff_id)
        if account is None:
            raise no_such_account()
        if account["disabled"]:
            raise WrongState(_("This account is deactivated. Please reactivate it first."))
        if account["has_password"]:
            raise WrongState(_("This person has already set a password: the account is active."))
        await _send_link(db, key, staff_id, account["email"], INVITATION)
        await audit.record(
            db,
            "staff.invitation_resent",
            actor=actor,
            subject_type="staff",
            subject_id=staff_id,
            subject_label=account["email"],
        )
        return await queries.member(db, staff_id)


def no_such_account() -> NotFound:
    return NotFound(_("There is no such staff account."))


async def update(
    db: asyncpg.Connection, actor: StaffUser, staff_id: int, changes: Mapping[str, Any]
) -> asyncpg.Record:
    """Changes `name`, `role`, `conferences` (slugs; empty: all) and `active`, as given. Only
    what differs is written and logged; deactivation ends every session and API token."""
    async with db.transaction():
        await queries.lock_account_changes(db)
        account = await queries.for_update(db, staff_id)
        if account is None:
            raise no_such_account()
        role = changes.get("role", account["role"])
        _check_role(role)
        active = changes.get("active", not account["disabled"])
        name = changes.get("name", account["name"]).strip()
        if "conferences" in changes:
            all_conferences, conference_ids = await _scope(db, role, changes["conferences"])
        elif role == "admin":  # an administrator sees every conference
            all_conferences, conference_ids = True, []
        else:
            all_conferences, conference_ids = account["all_conferences"], account["conference_ids"]
        if not active and staff_id == actor.id:
            raise FieldErrors({"active": _("You cannot deactivate your own account.")}, taken=True)
        active_admin = account["role"] == "admin" and account["has_password"]
        active_admin = active_admin and not account["disabled"]
        if (
            active_admin
            and (role != "admin" or not active)
            and await queries.other_active_admins(db, staff_id) == 0
        ):
            field = "role" if role != "admin" else "active"
            raise FieldErrors(
                {field: _("At least one active administrator must remain.")}, taken=True
            )
        changed = [
            field
            for field, before, after in (
                ("name", account["name"], name),
                ("role", account["role"], role),
                ("active", not account["disabled"], active),
                (
                    "conferences",
                    (account["all_conferences"], sorted(account["conference_ids"])),
                    (all_conferences, sorted(conference_ids)),
                ),
            )
            if before != after
        ]
        if changed:
            await queries.update_account(
                db,
                staff_id,
                name=name,
                role=role,
                disabled=not active,
                all_conferences=all_conferences,
            )
            if "conferences" in changed:
                await queries.set_conferences(db, staff_id, conference_ids)
            if "active" in changed and not active:
                await queries.end_sessions_and_tokens(db, staff_id)
            await audit.record(
                db,
                "staff.updated",
                actor=actor,
                subject_type="staff",
                subject_id=staff_id,
                subject_label=account["email"],
                fields=changed,
            )
        return await queries.member(db, staff_id)


# ── passwords (the person themselves) ──────────────────────────────────────────────────────


def _check_password(password: str, link_or_account: Mapping[str, Any], field: str) -> None:
    problem = passwords.problem(
        password, email=link_or_account["email"], name=link_or_account["name"]
    )
    if problem:
        raise FieldErrors({field: problem})


async def _redeem(
    db: asyncpg.Connection, token: str, password: str, purpose: str, action: str
) -> int:
    """Sets the password through a link: 404 unknown, 409 used or expired, 400 a weak
    password (the link stays good then). Every session of the account ends."""
    link = await link_for(db, token, purpose)
    _check_password(password, link, "password")
    hashed = await hash_password(password)
    async with db.transaction():
        if await queries.use_link(db, link["id"]) is None:
            raise LinkUsed(_("This link has already been used."))
        first = purpose == INVITATION
        if await queries.set_password(db, link["staff_id"], hashed, first=first) is None:
            # Deactivated, or a password set another way, since the link was read.
            raise LinkUsed(_("This link has already been used."))
        await queries.retire_links(db, link["staff_id"], purpose)
        await audit.record(
            db,
            action,
            actor=Person(link["staff_id"], link["email"]),
            subject_type="staff",
            subject_id=link["staff_id"],
            subject_label=link["email"],
        )
    return link["staff_id"]


async def accept_invitation(db: asyncpg.Connection, token: str, password: str) -> int:
    return await _redeem(db, token, password, INVITATION, "staff.invitation_accepted")


async def reset_password(db: asyncpg.Connection, token: str, password: str) -> int:
    return await _redeem(db, token, password, PASSWORD_RESET, "staff.password_reset")


async def request_password_reset(db: asyncpg.Connection, key: bytes, email: str) -> None:
    """A reset link for an active account; nothing for any other address. The caller answers
    the same either way; the mail counts against the address's hourly share (mail_quota)."""
    async with db.transaction():
        account = await queries.active_by_email(db, email.strip().lower())
        if account is not None:
            await _send_link(db, key, account["id"], account["email"], PASSWORD_RESET)


async def change_password(
    db: asyncpg.Connection, staff: StaffUser, old_password: str, new_password: str
) -> int:
    """A new password with the current one; every session of the account ends. Returns the
    account's new session generation, for the session that made the change to go on."""
    assert staff.id is not None
    account = await queries.password_row(db, staff.id)
    if account is None or not await verify_password(account["password_hash"], old_password):
        raise FieldErrors({"old_password": _("This is not your current password.")})
    if new_password == old_password:
        raise FieldErrors(
            {"new_password": _("Please choose a password other than the current one.")}
        )
    _check_password(new_password, account, "new_password")
    hashed = await hash_password(new_password)
    async with db.transaction():
        generation = await queries.set_password(db, staff.id, hashed)
        if generation is None:
            raise no_such_account()
        await audit.own_account(db, "staff.password_changed", staff)
    return generation
