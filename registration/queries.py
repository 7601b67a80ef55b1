"""Every SQL statement of the registration domain for attendees: sign-up, confirmation,
cancellation and the waiting list, tickets, calendars, the conference rows registration reads,
and data protection's export, anonymisation and clean-up. Staff's lists and reports are in
`registration/staff_queries.py`, the entrance's statements in `registration/entrance/queries.py`;
no other module of registration holds SQL."""

from __future__ import annotations

from typing import Any

import asyncpg

CONFIRM_VALIDITY = "48 hours"

_COLUMNS = """
    r.id, r.conference_id, r.email, r.name, r.organisation, r.category, r.language, r.needs,
    r.status, r.confirm_salt, r.confirm_expires_at, r.confirm_expires_at < now() AS expired,
    r.manage_salt, r.ticket_salt, r.waitlist_position, r.calendar_sequence, r.created_at,
    r.confirmed_at, r.cancelled_at
"""


async def insert(
    db: asyncpg.Connection,
    conference_id: int,
    fields: dict[str, Any],
    salts: dict[str, bytes],
    hashes: dict[str, bytes],
) -> int | None:
    """A new pending registration, or None when the address already has an active one (a
    stand-staff pass never conflicts: migration 0016)."""
    return await db.fetchval(
        f"""
        INSERT INTO registrations (conference_id, email, name, organisation, category, language,
            needs, confirm_salt, confirm_hash, confirm_expires_at, manage_salt, manage_hash,
            ticket_salt, ticket_hash, calendar_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + interval '{CONFIRM_VALIDITY}',
                $10, $11, $12, $13, $14)
        ON CONFLICT (conference_id, email)
            WHERE status <> 'cancelled' AND category <> 'exhibitor_staff' DO NOTHING
        RETURNING id
        """,
        conference_id,
        fields["email"],
        fields["name"],
        fields["organisation"],
        fields["category"],
        fields["language"],
        fields["needs"],
        salts["confirm"],
        hashes["confirm"],
        salts["manage"],
        hashes["manage"],
        salts["ticket"],
        hashes["ticket"],
        hashes.get("calendar"),  # else written when the feed's address is first shown
    )


async def add_consents(
    db: asyncpg.Connection, registration_id: int, consents: dict[str, str]
) -> None:
    """`consents` maps kind → version of the text that was shown."""
    await db.executemany(
        "INSERT INTO consents (registration_id, kind, text_version) VALUES ($1, $2, $3) "
        "ON CONFLICT (registration_id, kind) DO UPDATE SET text_version = excluded.text_version, "
        "given_at = now()",
        [(registration_id, kind, version) for kind, version in consents.items()],
    )


async def consents(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT kind, text_version, given_at FROM consents WHERE registration_id = $1 "
        "ORDER BY kind",
        registration_id,
    )


async def active_by_email(
    db: asyncpg.Connection, conference_id: int, email: str
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM registrations r WHERE r.conference_id = $1 AND r.email = $2 "
        "AND r.status <> 'cancelled' AND r.category <> 'exhibitor_staff' FOR UPDATE",
        conference_id,
        email,
    )


async def by_hash(db: asyncpg.Connection, column: str, digest: bytes) -> asyncpg.Record | None:
    assert column in ("confirm_hash", "manage_hash", "ticket_hash")
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM registrations r WHERE r.{column} = $1", digest
    )


async def by_id(
    db: asyncpg.Connection, registration_id: int, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM registrations r WHERE r.id = $1{suffix}", registration_id
    )


async def lock_conference(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    """Every change of a conference's seats or waiting list takes this lock first, then the
    registration rows: one order everywhere, so two such changes never deadlock."""
    return await db.fetchrow(
        "SELECT id, capacity, seats_taken FROM conferences WHERE id = $1 FOR UPDATE",
        conference_id,
    )


async def renew_confirmation(
    db: asyncpg.Connection, registration_id: int, salt: bytes, digest: bytes
) -> None:
    await db.execute(
        f"UPDATE registrations SET confirm_salt = $2, confirm_hash = $3, "
        f"confirm_expires_at = now() + interval '{CONFIRM_VALIDITY}', updated_at = now() "
        "WHERE id = $1",
        registration_id,
        salt,
        digest,
    )


async def confirm(
    db: asyncpg.Connection,
    confirm_digest: bytes,
    *,
    ticket_kind: str,
    waitlisted_kind: str,
    payload: str,
    channel: str,
) -> asyncpg.Record:
    """The whole confirmation in one statement (registration_confirm, migration 0011): under
    the conference row's lock, then the registration's, a place or the next waiting place, the
    status and the outbox row with its NOTIFY. (status, manage_salt); status is 'confirmed' or
    'waitlisted' (also for a link used again), else 'cancelled', 'closed' (registration not
    open now or the conference over: migration 0018), 'expired' or 'invalid'."""
    return await db.fetchrow(
        "SELECT o_status AS status, o_manage_salt AS manage_salt "
        "FROM registration_confirm($1, $2, $3, $4, $5)",
        confirm_digest,
        ticket_kind,
        waitlisted_kind,
        payload,
        channel,
    )


async def take_seat(db: asyncpg.Connection, conference_id: int) -> bool:
    """One place, if one is free: the check and the count are one atomic statement."""
    return bool(
        await db.fetchval(
            "UPDATE conferences SET seats_taken = seats_taken + 1 "
            "WHERE id = $1 AND seats_taken < capacity RETURNING 1",
            conference_id,
        )
    )


async def release_seat(db: asyncpg.Connection, conference_id: int) -> None:
    await db.execute(
        "UPDATE conferences SET seats_taken = seats_taken - 1 WHERE id = $1", conference_id
    )


async def mark_confirmed(db: asyncpg.Connection, registration_id: int) -> None:
    await db.execute(
        "UPDATE registrations SET status = 'confirmed', waitlist_position = NULL, "
        "confirmed_at = now(), updated_at = now() WHERE id = $1",
        registration_id,
    )


async def mark_cancelled(db: asyncpg.Connection, registration_id: int) -> None:
    await db.execute(
        "UPDATE registrations SET status = 'cancelled', waitlist_position = NULL, "
        "cancelled_at = now(), calendar_sequence = calendar_sequence + 1, updated_at = now() "
        "WHERE id = $1",
        registration_id,
    )


async def first_waiting(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM registrations r WHERE r.conference_id = $1 "
        "AND r.status = 'waitlisted' ORDER BY r.waitlist_position LIMIT 1 FOR UPDATE",
        conference_id,
    )


async def waitlist_place(db: asyncpg.Connection, registration: asyncpg.Record) -> int | None:
    """1-based place on the conference's waiting list."""
    if registration["status"] != "waitlisted":
        return None
    return await db.fetchval(
        "SELECT count(*) FROM registrations WHERE conference_id = $1 AND status = 'waitlisted' "
        "AND waitlist_position <= $2",
        registration["conference_id"],
        registration["waitlist_position"],
    )


async def set_language(db: asyncpg.Connection, registration_id: int, language: str) -> None:
    await db.execute(
        "UPDATE registrations SET language = $2, updated_at = now() WHERE id = $1",
        registration_id,
        language,
    )


async def new_ticket(
    db: asyncpg.Connection, registration_id: int, salt: bytes, digest: bytes
) -> None:
    await db.execute(
        "UPDATE registrations SET ticket_salt = $2, ticket_hash = $3, updated_at = now() "
        "WHERE id = $1",
        registration_id,
        salt,
        digest,
    )


async def bump_calendars(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """A new SEQUENCE for everyone holding a place, after the conference itself changed."""
    return await db.fetch(
        "UPDATE registrations SET calendar_sequence = calendar_sequence + 1 "
        "WHERE conference_id = $1 AND status = 'confirmed' RETURNING id, email, language",
        conference_id,
    )


async def remember_calendar_token(
    db: asyncpg.Connection, registration_id: int, digest: bytes
) -> None:
    """The feed token's digest for a registration made before migration 0018 (which could
    not fill it in: it needs SECRET_KEY); `insert` writes it for every new one, so this is a
    no-op for them."""
    await db.execute(
        "UPDATE registrations SET calendar_hash = $2 WHERE id = $1 AND calendar_hash IS NULL",
        registration_id,
        digest,
    )


async def by_calendar_hash(db: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The registration of a calendar feed token; none once the person was made anonymous
    (anonymisation replaces the other hashes, and this one must stop with them)."""
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM registrations r "
        "WHERE r.calendar_hash = $1 AND r.anonymised_at IS NULL",
        digest,
    )


# ── the conference rows registration reads ────────────────────────────────────────────────


async def conference(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM conferences WHERE id = $1", conference_id)


async def conference_with_end(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    """The conference and whether it has ended (`ended`)."""
    return await db.fetchrow(
        "SELECT *, ends_at <= now() AS ended FROM conferences WHERE id = $1",
        conference_id,
    )


async def conference_slug(db: asyncpg.Connection, conference_id: int) -> str | None:
    return await db.fetchval("SELECT slug FROM conferences WHERE id = $1", conference_id)


async def conference_slug_row(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    """The conference's slug as a row (for templates that read `conference.slug`)."""
    return await db.fetchrow("SELECT slug FROM conferences WHERE id = $1", conference_id)


# ── data protection (registration.privacy) ──────────────────────────────────────────────


async def full_row(db: asyncpg.Connection, registration_id: int) -> asyncpg.Record | None:
    """Every column of the registration, for the person's data export."""
    return await db.fetchrow("SELECT * FROM registrations WHERE id = $1", registration_id)


async def conference_summary(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT slug, title, venue, starts_at, ends_at FROM conferences WHERE id = $1",
        conference_id,
    )


async def scans_of(db: asyncpg.Connection, registration_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT scanned_at, gate, type, status, reason, offline FROM scans "
        "WHERE registration_id = $1 ORDER BY scanned_at, id",
        registration_id,
    )


async def mails_of(
    db: asyncpg.Connection, registration_id: int, kind_patterns: list[str]
) -> list[asyncpg.Record]:
    """The outbox rows about the registration whose kind matches one of the LIKE patterns."""
    return await db.fetch(
        "SELECT kind, recipient, language, status, created_at, sent_at FROM outbox "
        "WHERE kind LIKE ANY($2::text[]) AND ref_id = $1 ORDER BY id",
        registration_id,
        kind_patterns,
    )


async def is_anonymised(db: asyncpg.Connection, registration_id: int) -> Any:
    return await db.fetchval(
        "SELECT anonymised_at IS NOT NULL FROM registrations WHERE id = $1", registration_id
    )


async def anonymise(db: asyncpg.Connection, registration_ids: list[int]) -> list[asyncpg.Record]:
    """Those of these registrations not yet anonymous become so; returns their ids."""
    return await db.fetch(
        """
            UPDATE registrations
            SET name = '–', email = 'anonymised-' || id || '@invalid', organisation = '',
                needs = '{}',
                -- Random digests: no link and no ticket leads here any more.
                confirm_hash = sha256(uuid_send(gen_random_uuid())),
                manage_hash = sha256(uuid_send(gen_random_uuid())),
                ticket_hash = sha256(uuid_send(gen_random_uuid())),
                anonymised_at = now(), updated_at = now()
            WHERE id = ANY($1::bigint[]) AND anonymised_at IS NULL
            RETURNING id
            """,
        registration_ids,
    )


async def delete_consents(db: asyncpg.Connection, registration_ids: list[int]) -> None:
    await db.execute(
        "DELETE FROM consents WHERE registration_id = ANY($1::bigint[])", registration_ids
    )


async def unname_scans(db: asyncpg.Connection, registration_ids: list[int]) -> None:
    """The door's answers named the person; the scans themselves stay for the counts."""
    await db.execute(
        "UPDATE scans SET response = jsonb_set(response, '{attendee}', 'null') "
        "WHERE registration_id = ANY($1::bigint[]) AND response -> 'attendee' <> 'null'",
        registration_ids,
    )


async def cancelled_of_same_address(
    db: asyncpg.Connection, registration_id: int
) -> list[asyncpg.Record]:
    """The person's other, cancelled and not yet anonymous registrations of the conference."""
    return await db.fetch(
        "SELECT other.id FROM registrations r JOIN registrations other "
        "ON other.conference_id = r.conference_id AND other.email = r.email "
        "WHERE r.id = $1 AND other.id <> r.id AND other.status = 'cancelled' "
        "AND other.anonymised_at IS NULL",
        registration_id,
    )


async def conference_ended(db: asyncpg.Connection, registration_id: int) -> bool | None:
    """Whether the registration's conference has ended; None when there is no registration."""
    return await db.fetchval(
        "SELECT c.ends_at <= now() FROM registrations r "
        "JOIN conferences c ON c.id = r.conference_id WHERE r.id = $1",
        registration_id,
    )


async def remove_needs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    """Deletes the needs once the conference's last day is over in its time zone; returns
    one row (conference_id) per registration changed."""
    return await db.fetch(
        """
        UPDATE registrations r SET needs = '{}', updated_at = now()
        FROM conferences c
        WHERE c.id = r.conference_id AND r.needs <> '{}'::jsonb
          AND (c.ends_at AT TIME ZONE c.timezone)::date < (now() AT TIME ZONE c.timezone)::date
        RETURNING r.conference_id
        """
    )


async def not_anonymised_of_ended(
    db: asyncpg.Connection, days_after_end: int
) -> list[asyncpg.Record]:
    """Registrations not yet anonymous of conferences ended `days_after_end` days ago or more."""
    return await db.fetch(
        """
        SELECT r.id, r.conference_id FROM registrations r
        JOIN conferences c ON c.id = r.conference_id
        WHERE r.anonymised_at IS NULL AND c.ends_at <= now() - make_interval(days => $1)
        """,
        days_after_end,
    )
