"""Mail bombing: one address gets at most mail_quota.PER_HOUR of the mails that others can make
us send — registrations and their re-sends (form and API), exhibitors' requests (form and API),
stand-staff passes added and removed — however many requests, clients and processes; every
request is answered as before, and other addresses are not affected."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg

from service import mail_quota
from tests.conftest import csrf_token, racing_app
from tests.exhibitor_support import booking_payload, make_stand, request_and_confirm
from tests.registration_support import SLUG, make_conference, register, registration_payload
from tests.smtp_server import smtp_server
from tests.test_registration_mail import deliver

__all__ = ["smtp_server"]  # a fixture, imported for pytest

VICTIM = "victim@example.org"


async def per_hour(pool: asyncpg.Pool, address: str) -> list[int]:
    """Mails queued to the address, per clock hour of the transaction that queued them (the
    hour the quota counted them in: both use the transaction's now())."""
    rows = await pool.fetch(
        "SELECT count(*) AS n FROM outbox WHERE recipient = $1 "
        "GROUP BY date_trunc('hour', created_at)",
        address,
    )
    return [row["n"] for row in rows]


async def test_one_address_gets_its_share_whatever_path_and_process(
    settings, organiser, pool, smtp_server
):
    unlimited = replace(settings, rate_limits=False)
    # Two apps with a pool each: two web processes sharing the database.
    # Both in this event loop, so that the requests sent at once really run at once.
    async with racing_app(unlimited) as first, racing_app(unlimited) as second:
        await make_conference(first, organiser)
        stand = await make_stand(first, organiser, max_staff=3)
        booking_id, manage = await request_and_confirm(first, pool, settings)
        approved = await first.post(
            f"/api/v1/exhibitor-bookings/{booking_id}/approve",
            json={"stand_id": stand["id"]},
            headers=organiser.headers,
        )
        assert approved.status_code == 200, approved.text
        await pool.execute("DELETE FROM outbox")  # the exhibitor's own mails so far
        csrf = {
            client: await csrf_token(client, f"/conferences/{SLUG}/register")
            for client in (first, second)
        }
        exhibit_csrf = await csrf_token(first, f"/conferences/{SLUG}/exhibit")

        async def api_registration(i: int):  # type: ignore[no-untyped-def]
            client = (first, second)[i % 2]
            # The address in other spellings is the same mailbox.
            email = VICTIM.upper() if i % 3 == 0 else VICTIM
            return await register(client, email=email, name=f"Click here {i}")

        async def form_registration(i: int):  # type: ignore[no-untyped-def]
            client = (first, second)[i % 2]
            data = {
                "name": f"Click here {i}",
                "email": VICTIM,
                "category": "volunteer",
                "language": "de",
                "consent_privacy": "yes",
                "_csrf_token": csrf[client],
            }
            return await client.post(f"/conferences/{SLUG}/register", data=data)

        async def exhibitor_request(i: int):  # type: ignore[no-untyped-def]
            payload = booking_payload(email=VICTIM, contact_name=f"Click here {i}")
            return await second.post(f"/api/v1/conferences/{SLUG}/exhibitor-bookings", json=payload)

        async def exhibitor_form(i: int):  # type: ignore[no-untyped-def]
            data = {
                "organisation": "Verein",
                "kind": "association",
                "contact_name": f"Click here {i}",
                "email": VICTIM,
                "description": "Beratung",
                "staff_count": "1",
                "language": "de",
                "_csrf_token": exhibit_csrf,
            }
            return await first.post(f"/conferences/{SLUG}/exhibit", data=data)

        async def passes_added_and_removed() -> list[int]:
            codes = []
            for i in range(6):
                added = await first.post(
                    f"/api/v1/exhibitor-bookings/{manage}/passes",
                    json={"name": f"Click here {i}", "email": VICTIM},
                )
                codes.append(added.status_code)
                removed = await second.delete(
                    f"/api/v1/exhibitor-bookings/{manage}/passes/{added.json()['id']}"
                )
                codes.append(removed.status_code)
            return codes

        api, forms, requests, request_forms, pass_codes = await asyncio.gather(
            asyncio.gather(*(api_registration(i) for i in range(30))),
            asyncio.gather(*(form_registration(i) for i in range(6))),
            asyncio.gather(*(exhibitor_request(i) for i in range(10))),
            asyncio.gather(*(exhibitor_form(i) for i in range(4))),
            passes_added_and_removed(),
        )
        # Every request got the answer it gets without any quota.
        assert {r.status_code for r in api} == {202}
        assert {r.json()["status"] for r in api} == {"pending_confirmation"}
        assert {r.status_code for r in requests} == {202}
        # The forms answer with the "check your inbox" page, naming the address.
        for page in (*forms, *request_forms):
            assert page.status_code == 200 and VICTIM in page.text, page.text
        assert pass_codes == [201, 200] * 6

        # Another address is not affected: its registration's mail goes out.
        assert (await register(first, email="other@example.org")).status_code == 202

    counts = await per_hour(pool, VICTIM)
    # Exactly the share (a turn of the hour during the test would split it into two).
    assert max(counts) == mail_quota.PER_HOUR and all(n <= mail_quota.PER_HOUR for n in counts)
    assert await per_hour(pool, "other@example.org") == [1]
    received = await deliver(pool, smtp_server)
    to_victim = [r for r in received if r.rcpt_tos == [VICTIM]]
    assert len(to_victim) == sum(counts)
    assert len([r for r in received if r.rcpt_tos == ["other@example.org"]]) == 1
    # The changes themselves happened: the registration and the request exist, the passes
    # were issued and withdrawn.
    async with pool.acquire() as db:
        assert (
            await db.fetchval(
                "SELECT count(*) FROM registrations WHERE email = $1 AND category = 'volunteer'",
                VICTIM,
            )
            == 1
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM registrations "
                "WHERE email = $1 AND category = 'exhibitor_staff'",
                VICTIM,
            )
            == 6
        )
        assert (
            await db.fetchval("SELECT count(*) FROM exhibitor_bookings WHERE email = $1", VICTIM)
            == 1
        )


async def test_the_address_is_stored_only_as_a_hash_and_past_hours_go(client, organiser, pool):
    await make_conference(client, organiser)
    async with pool.acquire() as db:
        await db.execute(
            "INSERT INTO mail_quota (address_hash, hour, sent) "
            "VALUES ($1, date_trunc('hour', now()) - interval '2 hours', 9)",
            mail_quota.address_hash("earlier@example.org"),
        )
    assert (await register(client, email="Aylin@Example.org")).status_code == 202
    async with pool.acquire() as db:
        rows = await db.fetch("SELECT address_hash, hour, sent FROM mail_quota")
        current_hour = await db.fetchval("SELECT date_trunc('hour', now())")
    assert [(r["address_hash"], r["sent"]) for r in rows] == [
        (mail_quota.address_hash("aylin@example.org"), 1)
    ]
    assert rows[0]["hour"] <= current_hour
    assert b"aylin" not in rows[0]["address_hash"]


async def test_a_request_that_rolls_back_gives_its_share_back(client, organiser, pool):
    """The count lives in the transaction that writes the mail: a failed request neither
    sends nor uses up the address's share."""
    await make_conference(client, organiser)
    for _ in range(mail_quota.PER_HOUR):
        async with pool.acquire() as db:
            tx = db.transaction()
            await tx.start()
            assert await mail_quota.take(db, VICTIM)
            await tx.rollback()
    refused = await register(client, **registration_payload(email=VICTIM, consents={}))
    assert refused.status_code == 400
    assert (await register(client, email=VICTIM)).status_code == 202
    assert await per_hour(pool, VICTIM) == [1]
