"""Helpers for forum tests: confirmed attendees made directly, forums through the API."""

from __future__ import annotations

from typing import Any

import asyncpg

from service import tokens

CONFERENCE_SLUG = "fachtag-2027"


def forum_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Spracherwerb im Ehrenamt",
        "room": "Raum 11",
        "starts_at": "2027-05-10T13:30:00+02:00",
        "ends_at": "2027-05-10T15:00:00+02:00",
        "capacity": 25,
    }
    payload.update(overrides)
    return payload


async def make_forum(client, organiser, slug: str = CONFERENCE_SLUG, **overrides: Any) -> dict:
    response = await client.post(
        f"/api/v1/conferences/{slug}/forums",
        json=forum_payload(**overrides),
        headers=organiser.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def make_attendees(
    pool: asyncpg.Pool, secret_key: str, slug: str, count: int, *, prefix: str = "person"
) -> list[tuple[int, str]]:
    """Confirmed registrations straight into the database (these tests are about forums);
    returns (registration id, self-service token) pairs."""
    key = tokens.key_from_secret(secret_key)
    made = []
    async with pool.acquire() as db, db.transaction():
        conference_id = await db.fetchval("SELECT id FROM conferences WHERE slug = $1", slug)
        for i in range(count):
            salts = {p: tokens.new_salt() for p in ("confirm", "manage", "ticket")}
            manage = tokens.derive(key, "manage", salts["manage"])
            registration_id = await db.fetchval(
                """
                INSERT INTO registrations (conference_id, email, name, category, language,
                    status, confirmed_at, confirm_salt, confirm_hash, confirm_expires_at,
                    manage_salt, manage_hash, ticket_salt, ticket_hash)
                VALUES ($1, $2, $3, 'volunteer', 'de', 'confirmed', now(), $4, $5, now(),
                        $6, $7, $8, $9)
                RETURNING id
                """,
                conference_id,
                f"{prefix}{i}@example.org",
                f"{prefix.title()} {i}",
                salts["confirm"],
                tokens.digest(tokens.derive(key, "confirm", salts["confirm"])),
                salts["manage"],
                tokens.digest(manage),
                salts["ticket"],
                tokens.digest(tokens.derive(key, "ticket", salts["ticket"])),
            )
            made.append((registration_id, manage))
        await db.execute(
            "UPDATE conferences SET capacity = greatest(capacity, seats_taken + $2), "
            "seats_taken = seats_taken + $2 WHERE id = $1",
            conference_id,
            count,
        )
    return made
