"""Helpers for registration tests: a conference, a registration, its tokens."""

from __future__ import annotations

from typing import Any

import asyncpg

from service import tokens
from service.settings import Settings
from tests.conftest import conference_payload

SLUG = "fachtag-2027"


def registration_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Aylin Demir",
        "email": "aylin@example.org",
        "organisation": "Flüchtlingshilfe Linden e. V.",
        "category": "volunteer",
        "language": "de",
        "consents": {"privacy": True},
    }
    payload.update(overrides)
    return payload


async def make_conference(client, organiser, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/conferences", json=conference_payload(**overrides), headers=organiser.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def register(client, slug: str = SLUG, **overrides: Any):
    return await client.post(
        f"/api/v1/conferences/{slug}/registrations", json=registration_payload(**overrides)
    )


def key(settings: Settings) -> bytes:
    return tokens.key_from_secret(settings.secret_key)


async def token_for(
    pool: asyncpg.Pool, settings: Settings, email: str, purpose: str = "confirm"
) -> str:
    """The token the e-mail would carry (derived the way the app derives it)."""
    async with pool.acquire() as db:
        salt = await db.fetchval(
            f"SELECT {purpose}_salt FROM registrations WHERE email = $1 ORDER BY id DESC LIMIT 1",
            email,
        )
    assert salt is not None, f"no registration for {email}"
    return tokens.derive(key(settings), purpose, salt)


async def confirm(client, pool, settings, email: str):
    token = await token_for(pool, settings, email)
    return await client.post("/api/v1/registrations/confirm", json={"token": token})
