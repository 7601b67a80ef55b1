"""Setup straight into the database (not what is measured): conferences, confirmed attendees
with tokens derived as the app derives them, forums, scanner devices."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.harness import SECRET_KEY
from service import tokens
from service.auth import new_api_token
from service.conferences import logic as conference_logic
from service.staff import create_staff

BERLIN = ZoneInfo("Europe/Berlin")
KEY = tokens.key_from_secret(SECRET_KEY)
DAY = datetime(2027, 5, 10, tzinfo=BERLIN)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


async def make_conference(db: asyncpg.Connection, slug: str, *, capacity: int) -> int:
    await conference_logic.create_conference(
        db,
        {
            "slug": slug,
            "title": f"Benchmark-Fachtag {slug}",
            "description": "Eine Konferenz für die Messung: Plenum, Foren, Markt.",
            "venue": "Convention Center Hannover",
            "address": "Messegelände, 30521 Hannover",
            "starts_at": at(9),
            "ends_at": at(17),
            "capacity": capacity,
            "languages": ["de", "en"],
            "organiser_name": "Bündnis „Niedersachsen packt an!“",
            "organiser_email": "konferenz@tagung.example",
        },
        staff=None,
    )
    return await db.fetchval("SELECT id FROM conferences WHERE slug = $1", slug)


@dataclass(frozen=True)
class Attendee:
    id: int
    email: str
    manage_token: str
    ticket_secret: str


def _random_hash() -> bytes:
    return hashlib.sha256(secrets.token_bytes(16)).digest()


async def make_attendees(
    db: asyncpg.Connection, conference_id: int, count: int, *, prefix: str = "person"
) -> list[Attendee]:
    """Confirmed registrations (as tests/forum_support.make_attendees makes them), written
    with COPY; the conference's seats grow to fit. The confirmation token is not needed."""
    rows, made = [], []
    for i in range(count):
        manage_salt, ticket_salt = tokens.new_salt(), tokens.new_salt()
        manage = tokens.derive(KEY, "manage", manage_salt)
        ticket = tokens.derive(KEY, "ticket", ticket_salt)
        email = f"{prefix}{i}@example.org"
        rows.append(
            (
                conference_id,
                email,
                f"{prefix.title()} {i}",
                f"Verein {i % 97}",
                "volunteer",
                "de" if i % 4 else "en",
                "confirmed",
                tokens.new_salt(),
                _random_hash(),
                manage_salt,
                tokens.digest(manage),
                ticket_salt,
                tokens.digest(ticket),
            )
        )
        made.append(Attendee(0, email, manage, ticket))
    columns = [
        "conference_id",
        "email",
        "name",
        "organisation",
        "category",
        "language",
        "status",
        "confirm_salt",
        "confirm_hash",
        "manage_salt",
        "manage_hash",
        "ticket_salt",
        "ticket_hash",
        "confirmed_at",
        "confirm_expires_at",
    ]
    now = datetime.now(UTC)
    async with db.transaction():
        await db.copy_records_to_table(
            "registrations", records=[(*row, now, now) for row in rows], columns=columns
        )
        ids = await db.fetch(
            "SELECT id, email FROM registrations WHERE conference_id = $1 AND email LIKE $2",
            conference_id,
            f"{prefix}%",
        )
        await db.execute(
            "UPDATE conferences SET capacity = greatest(capacity, seats_taken + $2), "
            "seats_taken = seats_taken + $2 WHERE id = $1",
            conference_id,
            count,
        )
    by_email = {r["email"]: r["id"] for r in ids}
    return [Attendee(by_email[a.email], a.email, a.manage_token, a.ticket_secret) for a in made]


async def scanner_tokens(db: asyncpg.Connection, count: int) -> list[str]:
    """One scanner account and `count` API tokens: one device per door."""
    staff_id = await create_staff(db, "scanner@tagung.example", "scanner", secrets.token_hex(8))
    made = []
    for i in range(count):
        token, digest = new_api_token()
        await db.execute(
            "INSERT INTO api_tokens (staff_id, token_hash, label) VALUES ($1, $2, $3)",
            staff_id,
            digest,
            f"Tür {i}",
        )
        made.append(token)
    return made


async def make_forum(
    db: asyncpg.Connection,
    conference_id: int,
    *,
    title: str,
    starts_at: datetime,
    minutes: int,
    capacity: int,
    **extra: Any,
) -> int:
    return await db.fetchval(
        "INSERT INTO forums (conference_id, title, room, starts_at, ends_at, capacity) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        conference_id,
        title,
        extra.get("room", ""),
        starts_at,
        starts_at + timedelta(minutes=minutes),
        capacity,
    )
