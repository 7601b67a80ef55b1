"""The SQL of door devices (table `devices`, migrations 0020 and 0023): adding a door with its
pairing code, the list, removal, and pairing. Only SHA-256 digests of pairing codes and device
tokens are stored. The lookup of a device by its token is service.staff_queries'
`device_by_token_digest` (service.auth needs it) and, for a scan, `checkin_scan_by_token`.
"""

from __future__ import annotations

import asyncpg

PAIRING_HOURS = 24  # a pairing code not used by then no longer pairs

_LISTED = """
    id, name, created_at, pairing_expires_at, paired_at, last_seen_at,
    (paired_at IS NULL AND pairing_expires_at <= now()) AS expired
"""


async def insert(
    db: asyncpg.Connection, conference_id: int, name: str, code_hash: bytes, created_by: int | None
) -> asyncpg.Record:
    """A new door waiting to be paired. Raises asyncpg.UniqueViolationError when the
    conference has a door of that name (any case) that has not been removed."""
    return await db.fetchrow(
        f"""
        INSERT INTO devices (conference_id, name, pairing_code_hash, pairing_expires_at,
                             created_by)
        VALUES ($1, $2, $3, now() + make_interval(hours => {PAIRING_HOURS}), $4)
        RETURNING {_LISTED}
        """,
        conference_id,
        name,
        code_hash,
        created_by,
    )


async def page(
    db: asyncpg.Connection, conference_id: int, after: int, limit: int
) -> tuple[list[asyncpg.Record], int | None]:
    """The conference's devices that have not been removed, in id order after `after`, and
    the cursor of the next page (None: the last)."""
    rows = await db.fetch(
        f"""
        SELECT {_LISTED} FROM devices
        WHERE conference_id = $1 AND removed_at IS NULL AND id > $2
        ORDER BY id LIMIT $3
        """,
        conference_id,
        after,
        limit + 1,
    )
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1]["id"]
    return rows, None


async def one(db: asyncpg.Connection, conference_id: int, device_id: int) -> asyncpg.Record | None:
    """A device of the conference that has not been removed."""
    return await db.fetchrow(
        f"SELECT {_LISTED} FROM devices "
        "WHERE id = $1 AND conference_id = $2 AND removed_at IS NULL",
        device_id,
        conference_id,
    )


async def remove(db: asyncpg.Connection, conference_id: int, device_id: int) -> str | None:
    """Removes a device of the conference: its token and its pairing code stop working at
    once (every lookup asks for removed_at IS NULL). Its name, or None if there was none."""
    return await db.fetchval(
        "UPDATE devices SET removed_at = now() "
        "WHERE id = $1 AND conference_id = $2 AND removed_at IS NULL RETURNING name",
        device_id,
        conference_id,
    )


async def pair(
    db: asyncpg.Connection, code_hash: bytes, token_hash: bytes
) -> asyncpg.Record | None:
    """Pairs the device of a live pairing code with a new token: the one UPDATE … WHERE
    paired_at IS NULL, so of two phones that send the code at the same moment exactly one
    changes the row (the other waits for its row lock, finds it paired and changes nothing).
    The device with its conference, or None when the code does not pair (any more)."""
    return await db.fetchrow(
        """
        UPDATE devices d SET paired_at = now(), token_hash = $2, last_seen_at = now()
        FROM conferences c
        WHERE d.pairing_code_hash = $1 AND d.paired_at IS NULL AND d.removed_at IS NULL
          AND d.pairing_expires_at > now() AND c.id = d.conference_id
        RETURNING d.id, d.name, d.conference_id, c.slug, c.title, c.timezone
        """,
        code_hash,
        token_hash,
    )


async def by_code(db: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    """The device of a pairing code in whatever state (to say why a code does not pair, and
    for the phone's page before it pairs), with its conference."""
    return await db.fetchrow(
        """
        SELECT d.id, d.name, d.paired_at, d.removed_at, d.pairing_expires_at,
               d.pairing_expires_at <= now() AS expired,
               c.slug, c.title, c.timezone
        FROM devices d JOIN conferences c ON c.id = d.conference_id
        WHERE d.pairing_code_hash = $1
        """,
        code_hash,
    )
