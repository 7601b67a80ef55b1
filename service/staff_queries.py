"""Every SQL statement about staff accounts and their API tokens: creation, passwords,
deactivation, the session generation, token issue and revocation, and the lookups of
service.auth (the account of a session or of an API token). service.auth, service.staff,
the CLI and the demo call these functions and hold no account SQL of their own.

E-mail addresses arrive here already trimmed and lower-cased by the callers.
"""

from __future__ import annotations

import asyncpg

# ── who is calling (service.auth) ──────────────────────────────────────────────────────────

# The conferences (ids) an account may see, read in the same statement as the account: NULL
# for all of them (staff.all_conferences), else its rows of staff_conferences (maybe none).
_CONFERENCES = """
    CASE WHEN s.all_conferences THEN NULL
         ELSE ARRAY(SELECT sc.conference_id FROM staff_conferences sc WHERE sc.staff_id = s.id)
    END AS conferences
"""


async def by_token_digest(db: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The account of a live API token (not revoked, account not disabled)."""
    return await db.fetchrow(
        """
        SELECT s.id, s.email, s.role, 'token:' || t.id AS device, """
        + _CONFERENCES
        + """
        FROM api_tokens t JOIN staff s ON s.id = t.staff_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT s.disabled
        """,
        digest,
    )


async def by_session(
    db: asyncpg.Connection, staff_id: int, generation: int
) -> asyncpg.Record | None:
    """The account of a session while the session's generation is still the account's."""
    return await db.fetchrow(
        "SELECT s.id, s.email, s.role, 'session:' || s.id AS device, "
        + _CONFERENCES
        + " FROM staff s WHERE s.id = $1 AND s.session_generation = $2 AND NOT s.disabled",
        staff_id,
        generation,
    )


# ── accounts ────────────────────────────────────────────────────────────────────────────────


async def insert(db: asyncpg.Connection, email: str, role: str, password_hash: str) -> int:
    """Raises asyncpg.UniqueViolationError when the address has an account."""
    return await db.fetchval(
        "INSERT INTO staff (email, role, password_hash) VALUES ($1, $2, $3) RETURNING id",
        email,
        role,
        password_hash,
    )


async def by_email(db: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT id, email, role FROM staff WHERE email = $1", email)


async def exists(db: asyncpg.Connection, email: str) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM staff WHERE email = $1", email))


async def login_row(db: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """What a login checks: the password hash and the session generation (active accounts)."""
    return await db.fetchrow(
        "SELECT id, password_hash, session_generation FROM staff WHERE email = $1 AND NOT disabled",
        email,
    )


async def set_password(db: asyncpg.Connection, email: str, password_hash: str) -> str:
    """The new hash; every session of the account ends. Returns the command status."""
    return await db.execute(
        "UPDATE staff SET password_hash = $2, session_generation = session_generation + 1 "
        "WHERE email = $1",
        email,
        password_hash,
    )


async def deactivate(db: asyncpg.Connection, email: str) -> str:
    """Disabled, and every session ends. Returns the command status."""
    return await db.execute(
        "UPDATE staff SET disabled = true, session_generation = session_generation + 1 "
        "WHERE email = $1",
        email,
    )


async def end_sessions(db: asyncpg.Connection, staff_id: int) -> None:
    await db.execute(
        "UPDATE staff SET session_generation = session_generation + 1 WHERE id = $1", staff_id
    )


async def add_conference(db: asyncpg.Connection, staff_id: int, conference_id: int) -> None:
    """One more conference for an account limited to some (a no-op if it has it)."""
    await db.execute(
        "INSERT INTO staff_conferences (staff_id, conference_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        staff_id,
        conference_id,
    )


# ── API tokens ──────────────────────────────────────────────────────────────────────────────


async def insert_token(db: asyncpg.Connection, email: str, digest: bytes, label: str) -> int | None:
    """The new token's id, or None when there is no account with this address."""
    return await db.fetchval(
        "INSERT INTO api_tokens (staff_id, token_hash, label) "
        "SELECT id, $2, $3 FROM staff WHERE email = $1 RETURNING id",
        email,
        digest,
        label,
    )


async def revoke_token(db: asyncpg.Connection, token_id: int, staff_id: int | None) -> str:
    """Revokes a live token (of this account, unless staff_id is None). Returns the status."""
    return await db.execute(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE id = $1 AND revoked_at IS NULL AND ($2::bigint IS NULL OR staff_id = $2)",
        token_id,
        staff_id,
    )


async def tokens_of(db: asyncpg.Connection, staff_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, label, created_at, revoked_at FROM api_tokens WHERE staff_id = $1 "
        "ORDER BY created_at DESC",
        staff_id,
    )


# ── door devices (service.auth; the rest of their SQL: registration/entrance/device_queries.py)


async def device_by_token_digest(db: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """A paired door device that has not been removed: id, name, conference_id. Its
    last_seen_at moves on in the same statement, at most once a minute (a busy door's scanner
    page asks often; its row need not be written every time)."""
    return await db.fetchrow(
        """
        WITH found AS (
            SELECT id, name, conference_id, last_seen_at FROM devices
            WHERE token_hash = $1 AND removed_at IS NULL
        ), seen AS (
            UPDATE devices d SET last_seen_at = now() FROM found
            WHERE d.id = found.id
              AND (found.last_seen_at IS NULL OR found.last_seen_at < now() - interval '1 minute')
        )
        SELECT id, name, conference_id FROM found
        """,
        digest,
    )
