"""Every SQL statement of the exhibitors domain: stands, bookings, passes, the directory,
and the reads and the erasure of data protection. The other modules call these functions and
hold no SQL of their own."""

from __future__ import annotations

from typing import Any

import asyncpg

CONFIRM_VALIDITY = "48 hours"
STAND_FIELDS = (
    "code",
    "area",
    "width_m",
    "depth_m",
    "features",
    "price_cents",
    "x",
    "y",
    "max_staff",
    "blocked",
)
BOOKING_FIELDS = (
    "organisation",
    "kind",
    "contact_name",
    "email",
    "phone",
    "website",
    "description",
    "description_en",
    "topics",
    "wished_width_m",
    "wished_depth_m",
    "wished_features",
    "staff_count",
    "language",
    "privacy_notice_version",
)

_STANDS = """
    SELECT s.*, b.organisation AS booked_by, b.id AS booking_id
    FROM stands s LEFT JOIN exhibitor_bookings b ON b.stand_id = s.id
"""


async def stands(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        _STANDS + " WHERE s.conference_id = $1 ORDER BY s.area, s.code", conference_id
    )


async def stand(db: asyncpg.Connection, stand_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_STANDS + " WHERE s.id = $1", stand_id)


async def insert_stand(db: asyncpg.Connection, conference_id: int, values: dict[str, Any]) -> int:
    columns = [f for f in STAND_FIELDS if f in values]
    placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
    return await db.fetchval(
        f"INSERT INTO stands (conference_id, {', '.join(columns)}) VALUES ($1, {placeholders}) "
        "RETURNING id",
        conference_id,
        *(values[c] for c in columns),
    )


async def update_stand(db: asyncpg.Connection, stand_id: int, values: dict[str, Any]) -> None:
    columns = [f for f in STAND_FIELDS if f in values]
    if not columns:
        return
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await db.execute(
        f"UPDATE stands SET {assignments} WHERE id = $1", stand_id, *(values[c] for c in columns)
    )


async def lock_stand(db: asyncpg.Connection, stand_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM stands WHERE id = $1 FOR UPDATE", stand_id)


async def stand_holder(db: asyncpg.Connection, stand_id: int) -> int | None:
    return await db.fetchval("SELECT id FROM exhibitor_bookings WHERE stand_id = $1", stand_id)


async def insert_booking(
    db: asyncpg.Connection,
    conference_id: int,
    values: dict[str, Any],
    salts: dict[str, bytes],
    hashes: dict[str, bytes],
) -> int | None:
    columns = [f for f in BOOKING_FIELDS if f in values]
    params = [values[c] for c in columns]
    n = len(columns)
    return await db.fetchval(
        f"""
        INSERT INTO exhibitor_bookings (conference_id, {", ".join(columns)}, confirm_salt,
            confirm_hash, confirm_expires_at, manage_salt, manage_hash)
        VALUES ($1, {", ".join(f"${i}" for i in range(2, n + 2))}, ${n + 2}, ${n + 3},
                now() + interval '{CONFIRM_VALIDITY}', ${n + 4}, ${n + 5})
        ON CONFLICT (conference_id, email) WHERE status <> 'cancelled' DO NOTHING
        RETURNING id
        """,
        conference_id,
        *params,
        salts["confirm"],
        hashes["confirm"],
        salts["manage"],
        hashes["manage"],
    )


_BOOKING = """
    SELECT b.*, b.confirm_expires_at < now() AS expired, s.code AS stand_code,
           s.max_staff, s.area AS stand_area
    FROM exhibitor_bookings b LEFT JOIN stands s ON s.id = b.stand_id
"""


async def booking(
    db: asyncpg.Connection, booking_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:
        await db.execute("SELECT 1 FROM exhibitor_bookings WHERE id = $1 FOR UPDATE", booking_id)
    return await db.fetchrow(_BOOKING + " WHERE b.id = $1", booking_id)


async def booking_by_hash(
    db: asyncpg.Connection, column: str, digest: bytes
) -> asyncpg.Record | None:
    assert column in ("confirm_hash", "manage_hash")
    return await db.fetchrow(_BOOKING + f" WHERE b.{column} = $1", digest)


async def active_by_email(
    db: asyncpg.Connection, conference_id: int, email: str
) -> asyncpg.Record | None:
    booking_id = await db.fetchval(
        "SELECT id FROM exhibitor_bookings WHERE conference_id = $1 AND email = $2 "
        "AND status <> 'cancelled' FOR UPDATE",
        conference_id,
        email,
    )
    return await booking(db, booking_id) if booking_id else None


async def renew_confirmation(
    db: asyncpg.Connection, booking_id: int, salt: bytes, digest: bytes
) -> None:
    await db.execute(
        f"UPDATE exhibitor_bookings SET confirm_salt = $2, confirm_hash = $3, "
        f"confirm_expires_at = now() + interval '{CONFIRM_VALIDITY}', updated_at = now() "
        "WHERE id = $1",
        booking_id,
        salt,
        digest,
    )


async def set_status(
    db: asyncpg.Connection,
    booking_id: int,
    status: str,
    *,
    stand_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Moves a booking to `status`; the stand is kept only when approved (a CHECK says so),
    and the UNIQUE on stand_id refuses a stand that another booking already has."""
    await db.execute(
        """
        UPDATE exhibitor_bookings
        SET status = $2, stand_id = $3,
            waitlist_position = CASE WHEN $2 = 'waitlisted'
                THEN coalesce(waitlist_position, nextval('exhibitor_waitlist_order')) END,
            reason = coalesce($4, reason),
            confirmed_at = CASE WHEN $2 = 'requested' THEN coalesce(confirmed_at, now())
                ELSE confirmed_at END,
            decided_at = CASE WHEN $2 IN ('approved', 'waitlisted', 'rejected') THEN now()
                ELSE decided_at END,
            updated_at = now()
        WHERE id = $1
        """,
        booking_id,
        status,
        stand_id,
        reason,
    )


async def update_directory(db: asyncpg.Connection, booking_id: int, values: dict[str, Any]) -> None:
    columns = [c for c in ("description", "description_en", "topics", "website") if c in values]
    if not columns:
        return
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await db.execute(
        f"UPDATE exhibitor_bookings SET {assignments}, updated_at = now() WHERE id = $1",
        booking_id,
        *(values[c] for c in columns),
    )


async def bookings(
    db: asyncpg.Connection, conference_id: int, *, status: str | None, after: int, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM exhibitor_bookings WHERE conference_id = $1 "
        "AND ($2::text IS NULL OR status = $2) AND id > $3 ORDER BY id LIMIT $4",
        conference_id,
        status,
        after,
        limit,
    )


async def waitlist_place(db: asyncpg.Connection, booking: asyncpg.Record) -> int | None:
    if booking["status"] != "waitlisted":
        return None
    return await db.fetchval(
        "SELECT count(*) FROM exhibitor_bookings WHERE conference_id = $1 "
        "AND status = 'waitlisted' AND waitlist_position <= $2",
        booking["conference_id"],
        booking["waitlist_position"],
    )


async def passes(db: asyncpg.Connection, booking_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT r.id, r.name, r.email, r.ticket_salt, r.status FROM exhibitor_passes p "
        "JOIN registrations r ON r.id = p.registration_id "
        "WHERE p.booking_id = $1 AND r.status = 'confirmed' ORDER BY r.id",
        booking_id,
    )


async def pass_count(db: asyncpg.Connection, booking_id: int) -> int:
    """Passes named for the booking's stand, withdrawn ones too."""
    return await db.fetchval(
        "SELECT count(*) FROM exhibitor_passes WHERE booking_id = $1", booking_id
    )


async def add_pass(db: asyncpg.Connection, booking_id: int, registration_id: int) -> None:
    await db.execute(
        "INSERT INTO exhibitor_passes (booking_id, registration_id) VALUES ($1, $2)",
        booking_id,
        registration_id,
    )


async def directory(
    db: asyncpg.Connection, conference_id: int, topic: str | None
) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT b.*, s.code AS stand_code, s.area AS stand_area FROM exhibitor_bookings b "
        "JOIN stands s ON s.id = b.stand_id WHERE b.conference_id = $1 "
        "AND b.status = 'approved' AND ($2::text IS NULL OR $2 = ANY(b.topics)) "
        "ORDER BY b.organisation",
        conference_id,
        topic,
    )


async def fitting_stands(db: asyncpg.Connection, booking: asyncpg.Record) -> list[asyncpg.Record]:
    """Free, bookable stands that meet the request: size, features, room for the staff."""
    found = await fitting_stands_by_booking(db, booking["conference_id"], [booking["id"]])
    return found.get(booking["id"], [])


async def fitting_stands_by_booking(
    db: asyncpg.Connection, conference_id: int, booking_ids: list[int]
) -> dict[int, list[asyncpg.Record]]:
    """`fitting_stands` of many bookings in one statement (the review page offers a choice of
    stands for each booking: one statement per booking took 600–900 ms for 480 bookings)."""
    rows = await db.fetch(
        """
        WITH free AS (
            SELECT s.*, NULL::text AS booked_by, NULL::bigint AS booking_id FROM stands s
            WHERE s.conference_id = $1 AND NOT s.blocked
              AND NOT EXISTS (SELECT 1 FROM exhibitor_bookings h WHERE h.stand_id = s.id)
        )
        SELECT b.id AS for_booking, f.*
        FROM exhibitor_bookings b
        JOIN free f ON (b.wished_width_m IS NULL OR f.width_m >= b.wished_width_m)
                   AND (b.wished_depth_m IS NULL OR f.depth_m >= b.wished_depth_m)
                   AND f.features @> b.wished_features AND f.max_staff >= b.staff_count
        WHERE b.conference_id = $1 AND b.id = ANY($2::bigint[])
        ORDER BY b.id, f.width_m * f.depth_m, f.code
        """,
        conference_id,
        booking_ids,
    )
    found: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["for_booking"], []).append(row)
    return found


async def conference(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    """The booking's conference (any, published or not: the booking exists)."""
    return await db.fetchrow("SELECT * FROM conferences WHERE id = $1", conference_id)


# ── data protection (exhibitors.privacy) ────────────────────────────────────────────────


async def export_booking(db: asyncpg.Connection, booking_id: int) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT b.*, s.code AS stand_code FROM exhibitor_bookings b "
        "LEFT JOIN stands s ON s.id = b.stand_id WHERE b.id = $1",
        booking_id,
    )


async def export_conference(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT slug, title, venue, starts_at, ends_at FROM conferences WHERE id = $1",
        conference_id,
    )


async def export_passes(db: asyncpg.Connection, booking_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT r.name, r.email, r.language, r.status, r.created_at, r.cancelled_at "
        "FROM exhibitor_passes p JOIN registrations r ON r.id = p.registration_id "
        "WHERE p.booking_id = $1 AND r.anonymised_at IS NULL ORDER BY r.id",
        booking_id,
    )


async def export_mails(db: asyncpg.Connection, booking_id: int, kinds: str) -> list[asyncpg.Record]:
    """The outbox rows about the booking; `kinds` is their prefix ("exhibitor.")."""
    return await db.fetch(
        "SELECT kind, recipient, language, status, created_at, sent_at FROM outbox "
        "WHERE kind LIKE $2 || '%' AND ref_id = $1 ORDER BY id",
        booking_id,
        kinds,
    )


async def anonymise(db: asyncpg.Connection, booking_ids: list[int]) -> list[int]:
    """Makes the contact data of those of these bookings not yet anonymous anonymous (the
    links stop working with new random hashes); returns their ids."""
    rows = await db.fetch(
        """
        UPDATE exhibitor_bookings
        SET contact_name = '–', email = 'anonymised-' || id || '@invalid', phone = '',
            website = '', description = '', description_en = '', reason = '',
            confirm_hash = sha256(uuid_send(gen_random_uuid())),
            manage_hash = sha256(uuid_send(gen_random_uuid())),
            anonymised_at = now(), updated_at = now()
        WHERE id = ANY($1::bigint[]) AND anonymised_at IS NULL
        RETURNING id
        """,
        booking_ids,
    )
    return [row["id"] for row in rows]


async def pass_registrations(db: asyncpg.Connection, booking_ids: list[int]) -> list[int]:
    """The registrations (passes) these bookings named, withdrawn ones too."""
    rows = await db.fetch(
        "SELECT registration_id FROM exhibitor_passes WHERE booking_id = ANY($1::bigint[])",
        booking_ids,
    )
    return [row["registration_id"] for row in rows]


async def conference_ended(db: asyncpg.Connection, conference_id: int) -> bool:
    return await db.fetchval(
        "SELECT ends_at <= now() FROM conferences WHERE id = $1", conference_id
    )


async def ended_bookings(db: asyncpg.Connection, days_after_end: int) -> list[asyncpg.Record]:
    """Bookings not yet anonymous of conferences that ended `days_after_end` days ago or
    earlier: (id, conference_id)."""
    return await db.fetch(
        """
        SELECT b.id, b.conference_id FROM exhibitor_bookings b
        JOIN conferences c ON c.id = b.conference_id
        WHERE b.anonymised_at IS NULL AND c.ends_at <= now() - make_interval(days => $1)
        """,
        days_after_end,
    )
