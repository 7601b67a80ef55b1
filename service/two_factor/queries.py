"""Every SQL statement of two-factor login (service.two_factor): an account's secret and its
state, the last time step used, recovery codes, and the installation's requirement.

Taking a code and using a recovery code are single UPDATEs with the condition in their WHERE:
two requests with the same code at once meet on the row, and only one finds it still open.
"""

from __future__ import annotations

import asyncpg

# ── an account's two-factor state ──────────────────────────────────────────────────────────


async def state(db: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    """What the account page and the login's second step need to know about an account."""
    return await db.fetchrow(
        """
        SELECT s.id, s.email, s.role, s.session_generation, s.totp_secret, s.totp_enabled_at,
               (SELECT count(*) FROM staff_recovery_codes r
                WHERE r.staff_id = s.id AND r.used_at IS NULL) AS recovery_codes_left
        FROM staff s WHERE s.id = $1 AND NOT s.disabled
        """,
        staff_id,
    )


async def keep_candidate_secret(
    db: asyncpg.Connection, staff_id: int, candidate: str
) -> str | None:
    """The secret an enrolment shows: the one kept from an earlier visit, else `candidate`.
    None when two-factor login is already on."""
    return await db.fetchval(
        "UPDATE staff SET totp_secret = coalesce(totp_secret, $2) "
        "WHERE id = $1 AND totp_enabled_at IS NULL RETURNING totp_secret",
        staff_id,
        candidate,
    )


async def enable(db: asyncpg.Connection, staff_id: int, secret: str, step: int) -> bool:
    """On, if the secret is still the one confirmed and it was not on already; the confirming
    code's step counts as used."""
    return bool(
        await db.fetchval(
            "UPDATE staff SET totp_enabled_at = now(), totp_last_step = $3 "
            "WHERE id = $1 AND totp_secret = $2 AND totp_enabled_at IS NULL RETURNING id",
            staff_id,
            secret,
            step,
        )
    )


async def disable(db: asyncpg.Connection, staff_id: int) -> bool:
    """Off, the secret forgotten (a new enrolment gets a new one), recovery codes deleted."""
    turned_off = await db.fetchval(
        "UPDATE staff SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL "
        "WHERE id = $1 AND totp_enabled_at IS NOT NULL RETURNING id",
        staff_id,
    )
    await db.execute("DELETE FROM staff_recovery_codes WHERE staff_id = $1", staff_id)
    return bool(turned_off)


async def take_step(db: asyncpg.Connection, staff_id: int, step: int) -> bool:
    """Marks the time step of a correct code as used; False if it or a later one was used
    already (a replayed code, or the same code sent twice at once)."""
    return bool(
        await db.fetchval(
            "UPDATE staff SET totp_last_step = $2 "
            "WHERE id = $1 AND totp_enabled_at IS NOT NULL "
            "AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id",
            staff_id,
            step,
        )
    )


# ── recovery codes ──────────────────────────────────────────────────────────────────────────


async def replace_recovery_codes(
    db: asyncpg.Connection, staff_id: int, digests: list[bytes]
) -> None:
    await db.execute("DELETE FROM staff_recovery_codes WHERE staff_id = $1", staff_id)
    await db.execute(
        "INSERT INTO staff_recovery_codes (staff_id, code_hash) SELECT $1, unnest($2::bytea[])",
        staff_id,
        digests,
    )


async def use_recovery_code(db: asyncpg.Connection, staff_id: int, digest: bytes) -> bool:
    """Marks an unused recovery code of the account as used; False if there is none."""
    return bool(
        await db.fetchval(
            "UPDATE staff_recovery_codes SET used_at = now() "
            "WHERE staff_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING id",
            staff_id,
            digest,
        )
    )


# ── the installation's requirement ──────────────────────────────────────────────────────────


async def require_two_factor(db: asyncpg.Connection) -> bool:
    """Whether admins and organisers must use two-factor login; no settings row: no."""
    return bool(
        await db.fetchval(
            "SELECT coalesce((SELECT require_two_factor FROM installation_settings), false)"
        )
    )


async def set_require_two_factor(db: asyncpg.Connection, required: bool) -> bool:
    """Sets the requirement (making the settings row if it is missing); returns the value it
    had before, read under the row's lock."""
    before = await db.fetchval("SELECT require_two_factor FROM installation_settings FOR UPDATE")
    await db.execute(
        "INSERT INTO installation_settings (id, require_two_factor) VALUES (true, $1) "
        "ON CONFLICT (id) DO UPDATE SET require_two_factor = excluded.require_two_factor",
        required,
    )
    return bool(before)
