"""Helpers for exhibitor tests: stands and confirmed booking requests."""

from __future__ import annotations

from typing import Any

from service import tokens

SLUG = "fachtag-2027"


def booking_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "organisation": "Caritasverband Hannover e. V.",
        "kind": "welfare_association",
        "contact_name": "Petra Schulz",
        "email": "markt@caritas.example",
        "description": "Beratung für Geflüchtete und Ehrenamtliche.",
        "topics": ["Beratung", "Ehrenamt"],
        "staff_count": 2,
        "website": "https://caritas.example",
        "wished_width_m": 3,
        "wished_features": ["power"],
    }
    payload.update(overrides)
    return payload


async def make_stand(client, organiser, **overrides: Any) -> dict:
    payload = {
        "code": "B1",
        "area": "Halle 2",
        "width_m": 3,
        "depth_m": 2,
        "features": ["power", "table"],
        "x": 0,
        "y": 0,
    }
    payload.update(overrides)
    response = await client.post(
        f"/api/v1/conferences/{SLUG}/stands", json=payload, headers=organiser.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def request_and_confirm(client, pool, settings, **overrides: Any) -> tuple[int, str]:
    """A confirmed booking request; returns (booking id, self-service token)."""
    payload = booking_payload(**overrides)
    response = await client.post(f"/api/v1/conferences/{SLUG}/exhibitor-bookings", json=payload)
    assert response.status_code == 202, response.text
    async with pool.acquire() as db:
        row = await db.fetchrow(
            "SELECT id, confirm_salt FROM exhibitor_bookings WHERE email = $1 "
            "AND status <> 'cancelled'",
            payload["email"],
        )
    key = tokens.key_from_secret(settings.secret_key)
    confirm_token = tokens.derive(key, "exhibitor-confirm", row["confirm_salt"])
    confirmed = await client.post(
        "/api/v1/exhibitor-bookings/confirm", json={"token": confirm_token}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "requested"
    return row["id"], confirmed.json()["manage_token"]
