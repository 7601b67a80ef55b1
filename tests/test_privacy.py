"""Data protection: one person's data as a download; anonymisation after the conference."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.registration_support import SLUG, confirm, make_conference, register


def anonymise(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "anonymise", *args],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_export_contains_what_is_stored(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await register(
        client,
        needs={"dietary": ["vegan"]},
        consents={"privacy": True, "special_category": True, "photos": True},
    )
    manage = (await confirm(client, pool, settings, "aylin@example.org")).json()["manage_token"]
    response = await client.get(f"/api/v1/registrations/{manage}/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["registration"]["email"] == "aylin@example.org"
    assert data["registration"]["needs"]["dietary"] == ["vegan"]
    assert {c["kind"] for c in data["consents"]} == {"privacy", "special_category", "photos"}
    assert [m["kind"] for m in data["emails"]] == ["registration.confirm", "registration.ticket"]
    assert data["conference"]["slug"] == SLUG
    assert (
        await client.get("/api/v1/registrations/ABCDEFGHJKMNPQRSTUVWXYZ234/export")
    ).status_code == 404


async def test_anonymise_after_the_conference(client, organiser, pool, settings, database_url):
    await make_conference(
        client,
        organiser,
        slug="vorbei",
        starts_at="2026-01-10T09:00:00+01:00",
        ends_at="2026-01-10T17:00:00+01:00",
        registration_opens_at="2025-12-01T00:00:00+01:00",
        registration_closes_at="2026-01-10T09:00:00+01:00",
    )
    await make_conference(client, organiser)  # in the future: untouched
    async with pool.acquire() as db:
        # Registration for the past conference closed long ago: put the rows in directly.
        await db.execute(
            "UPDATE conferences SET registration_closes_at = '2099-01-01' WHERE slug = 'vorbei'"
        )
    await register(
        client,
        slug="vorbei",
        email="alt@example.org",
    )
    await register(client, email="neu@example.org")
    result = await asyncio.to_thread(anonymise, database_url, "--days-after-end", "30")
    assert result.returncode == 0, result.stderr
    assert "Made 1 registration(s) anonymous" in result.stdout
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT email, name, anonymised_at FROM registrations ORDER BY id")
        assert rows[0]["email"].startswith("anonymised-") and rows[0]["name"] == "–"
        assert rows[0]["anonymised_at"] is not None
        assert rows[1]["email"] == "neu@example.org" and rows[1]["anonymised_at"] is None
        assert (
            await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'alt@example.org'")
            == 0
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM consents c JOIN registrations r ON r.id = c.registration_id "
                "WHERE r.anonymised_at IS NOT NULL"
            )
            == 0
        )
    again = await asyncio.to_thread(anonymise, database_url)
    assert "Made 0 registration(s)" in again.stdout
