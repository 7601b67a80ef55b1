"""Staff accounts through the JSON API (service/team/): invite, accept, list, change,
deactivate, re-send, reset; bad input named by field; used links 409; the audit log; and the
races (two admins changing one account, one invitation accepted twice) on separate
connections of a live server."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import httpx

from service import tokens
from service.team import logic
from tests.conftest import PASSWORD, conference_payload
from tests.live_server import SECRET_KEY
from tests.smtp_server import smtp_server
from tests.test_registration_mail import deliver, text_of

__all__ = ["smtp_server"]  # a fixture, imported for pytest

NEW_PASSWORD = "Lindenblüte über dem Marktplatz"
INVITE_LINK = re.compile(r"http://testserver\.local/staff/invite/([A-Z0-9]{26})")


async def link_token(pool: asyncpg.Pool, secret_key: str, email: str, purpose: str) -> str:
    """The token of the newest link of this purpose (as the mail carries it)."""
    salt = await pool.fetchval(
        "SELECT l.salt FROM staff_links l JOIN staff s ON s.id = l.staff_id "
        "WHERE s.email = $1 AND l.purpose = $2 ORDER BY l.id DESC LIMIT 1",
        email,
        purpose,
    )
    assert salt is not None, f"no {purpose} link for {email}"
    return logic.link_token(tokens.key_from_secret(secret_key), purpose, salt)


async def invite(client, admin, **body) -> httpx.Response:
    payload = {"email": "neu@example.org", "role": "organiser", **body}
    return await client.post("/api/v1/staff", json=payload, headers=admin.headers)


def errors_of(response: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


async def test_invite_mail_accept_and_log_in(client, make_staff, pool, settings, smtp_server):
    admin = await make_staff("admin")
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    made = await invite(
        client, admin, email="Neu@Example.org", name="Nora Neu", conferences=["fachtag-2027"]
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["email"] == "neu@example.org"
    assert body["status"] == "invited"
    assert body["role"] == "organiser"
    assert body["conferences"] == ["fachtag-2027"] and body["all_conferences"] is False
    assert made.headers["location"] == f"/api/v1/staff/{body['id']}"

    [received] = await deliver(pool, smtp_server)
    assert received.rcpt_tos == ["neu@example.org"]
    text = text_of(received.message)
    [token] = INVITE_LINK.findall(text)
    assert "Nora Neu" in text
    # Only a digest and a salt are stored; neither the outbox nor the link row holds the token.
    stored = await pool.fetchrow("SELECT * FROM staff_links")
    assert token.encode() not in bytes(stored["token_hash"])
    assert token not in str(await pool.fetchval("SELECT payload::text FROM outbox"))

    # Before the password is set, the account cannot log in.
    accepted = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"status": "active"}
    listed = await client.get(f"/api/v1/staff/{body['id']}", headers=admin.headers)
    assert listed.json()["status"] == "active"
    again = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
    )
    assert again.status_code == 409

    page = await client.get("/staff/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)[1]
    login = await client.post(
        "/staff/login",
        data={"email": "neu@example.org", "password": NEW_PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert login.status_code in (302, 303), login.text
    actions = await pool.fetch(
        "SELECT action FROM audit_log WHERE action LIKE 'staff.invit%' ORDER BY id"
    )
    assert [a["action"] for a in actions] == ["staff.invited", "staff.invitation_accepted"]


async def test_bad_input_is_named_by_field(client, make_staff):
    admin = await make_staff("admin")
    cases = [
        ({"role": "king"}, "role", 400),
        ({"conferences": ["gibt-es-nicht"]}, "conferences", 400),
        ({"email": "kein-at-zeichen"}, "email", 400),
        ({"email": admin.email}, "email", 409),
        ({"role": "admin", "conferences": ["fachtag-2027"]}, "conferences", 400),
    ]
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    for body, field, status in cases:
        response = await invite(client, admin, **body)
        assert response.status_code == status, (body, response.text)
        assert field in errors_of(response), (body, response.text)

    answers = {
        language: await client.post(
            "/api/v1/staff",
            json={"email": "neu@example.org", "role": "king"},
            headers={**admin.headers, "Accept-Language": language},
        )
        for language in ("de", "en")
    }
    assert errors_of(answers["de"])["role"] == "Bitte wählen Sie einen der zulässigen Werte."
    assert errors_of(answers["en"])["role"] == "Please choose one of the allowed values."


async def test_weak_passwords_are_refused_and_the_link_stays_good(
    client, make_staff, pool, settings
):
    admin = await make_staff("admin")
    assert (await invite(client, admin, name="Nora Neu")).status_code == 201
    token = await link_token(pool, settings.secret_key, "neu@example.org", "invitation")
    for weak in ("kurz", "passwort1234", "Sommer2024!!", "abcabcabcabc", "nora neu 2024"):
        response = await client.post(
            "/api/v1/staff/invitations/accept",
            json={"token": token, "password": weak},
            headers={"Accept-Language": "de"},
        )
        assert response.status_code == 400, (weak, response.text)
        assert set(errors_of(response)) == {"password"}, response.text
    short = await client.post(
        "/api/v1/staff/invitations/accept",
        json={"token": token, "password": "kurz"},
        headers={"Accept-Language": "de"},
    )
    assert errors_of(short)["password"] == "Bitte geben Sie mindestens 12 Zeichen ein."
    ok = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
    )
    assert ok.status_code == 200


async def test_unknown_expired_and_replaced_links(client, make_staff, pool, settings):
    admin = await make_staff("admin")
    made = (await invite(client, admin)).json()
    first = await link_token(pool, settings.secret_key, "neu@example.org", "invitation")
    unknown = await client.post(
        "/api/v1/staff/invitations/accept",
        json={"token": "A" * 26, "password": NEW_PASSWORD},
    )
    assert unknown.status_code == 404

    resent = await client.post(f"/api/v1/staff/{made['id']}/invitation", headers=admin.headers)
    assert resent.status_code == 201, resent.text
    second = await link_token(pool, settings.secret_key, "neu@example.org", "invitation")
    assert second != first
    replaced = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": first, "password": NEW_PASSWORD}
    )
    assert replaced.status_code == 409

    await pool.execute("UPDATE staff_links SET expires_at = now() - interval '1 second'")
    expired = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": second, "password": NEW_PASSWORD}
    )
    assert expired.status_code == 409
    assert await pool.fetchval("SELECT password_hash IS NULL FROM staff WHERE id = $1", made["id"])
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'staff.invitation'") == 2
    actions = [
        r["action"]
        for r in await pool.fetch(
            "SELECT action FROM audit_log WHERE action LIKE 'staff.%' ORDER BY id"
        )
    ]
    assert actions == ["staff.invited", "staff.invitation_resent"]


async def test_list_is_paged_and_admin_only(client, make_staff):
    admin = await make_staff("admin")
    organiser = await make_staff("organiser")
    for n in range(3):
        assert (await invite(client, admin, email=f"p{n}@example.org")).status_code == 201
    first = await client.get("/api/v1/staff?limit=2", headers=admin.headers)
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next"] == page["items"][-1]["id"]
    rest = (await client.get(f"/api/v1/staff?after={page['next']}", headers=admin.headers)).json()
    emails = [m["email"] for m in page["items"] + rest["items"]]
    assert emails == [admin.email, organiser.email, *(f"p{n}@example.org" for n in range(3))]
    assert rest["next"] is None
    statuses = {m["email"]: m["status"] for m in page["items"] + rest["items"]}
    assert statuses[admin.email] == "active" and statuses["p0@example.org"] == "invited"
    assert (await client.get("/api/v1/staff", headers=organiser.headers)).status_code == 403
    assert (await invite(client, organiser)).status_code == 403
    assert (await client.get("/api/v1/staff")).status_code == 401


async def test_change_role_and_conferences_and_deactivate(client, make_staff, pool):
    admin = await make_staff("admin")
    organiser = await make_staff("organiser")
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    staff_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", organiser.email)
    changed = await client.patch(
        f"/api/v1/staff/{staff_id}",
        json={"role": "scanner", "conferences": ["fachtag-2027"]},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "scanner"
    assert changed.json()["conferences"] == ["fachtag-2027"]
    unchanged = await client.patch(f"/api/v1/staff/{staff_id}", json={}, headers=admin.headers)
    assert unchanged.status_code == 200

    # The account's token works, until deactivation ends it at once.
    registrations = "/api/v1/conferences/fachtag-2027/registrations"
    assert (await client.get(registrations, headers=organiser.headers)).status_code == 403
    off = await client.patch(
        f"/api/v1/staff/{staff_id}", json={"active": False}, headers=admin.headers
    )
    assert off.json()["status"] == "deactivated"
    assert (await client.get(registrations, headers=organiser.headers)).status_code == 401
    # Reactivated, it can log in again, but the revoked tokens stay revoked.
    on = await client.patch(
        f"/api/v1/staff/{staff_id}", json={"active": True}, headers=admin.headers
    )
    assert on.json()["status"] == "active"
    assert (await client.get(registrations, headers=organiser.headers)).status_code == 401

    entries = await pool.fetch(
        "SELECT action, details FROM audit_log WHERE action = 'staff.updated' ORDER BY id"
    )
    assert [e["details"]["fields"] for e in entries] == [
        ["conferences", "role"],
        ["active"],
        ["active"],
    ]


async def test_the_last_admin_and_ones_own_account(client, make_staff, pool):
    admin = await make_staff("admin")
    admin_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", admin.email)
    demoted = await client.patch(
        f"/api/v1/staff/{admin_id}", json={"role": "organiser"}, headers=admin.headers
    )
    assert demoted.status_code == 409 and "role" in errors_of(demoted)
    myself = await client.patch(
        f"/api/v1/staff/{admin_id}", json={"active": False}, headers=admin.headers
    )
    assert myself.status_code == 409 and "active" in errors_of(myself)
    assert (
        await client.patch("/api/v1/staff/999999", json={}, headers=admin.headers)
    ).status_code == 404
    # A second admin: now the first may step down.
    await make_staff("admin")
    demoted = await client.patch(
        f"/api/v1/staff/{admin_id}", json={"role": "organiser"}, headers=admin.headers
    )
    assert demoted.status_code == 200


async def test_password_reset_answers_the_same_and_mails_only_active_accounts(
    client, make_staff, pool, settings
):
    organiser = await make_staff("organiser")
    admin = await make_staff("admin")
    await invite(client, admin, email="eingeladen@example.org")
    answers = []
    for email in (organiser.email, "niemand@example.org", "eingeladen@example.org"):
        response = await client.post("/api/v1/staff/password-reset", json={"email": email})
        answers.append((response.status_code, response.json()))
    assert answers == [(202, {"status": "accepted"})] * 3
    kinds = await pool.fetch("SELECT recipient FROM outbox WHERE kind = 'staff.password_reset'")
    assert [k["recipient"] for k in kinds] == [organiser.email]
    bad = await client.post("/api/v1/staff/password-reset", json={"email": "nope"})
    assert bad.status_code == 400 and "email" in errors_of(bad)


async def test_two_admins_change_one_account_at_once(live_server, make_staff, pool):
    """Deactivation and a change of role and conferences race on a live server (separate
    connections): both land, in one order, and nothing of either is lost."""
    first, second = await make_staff("admin"), await make_staff("admin")
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        made = await http.post(
            "/api/v1/conferences", json=conference_payload(), headers=first.headers
        )
        assert made.status_code == 201, made.text
        for round_ in range(8):
            target = await make_staff("organiser")
            staff_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", target.email)
            off, change = await asyncio.gather(
                http.patch(
                    f"/api/v1/staff/{staff_id}", json={"active": False}, headers=first.headers
                ),
                http.patch(
                    f"/api/v1/staff/{staff_id}",
                    json={"role": "scanner", "conferences": ["fachtag-2027"]},
                    headers=second.headers,
                ),
            )
            assert off.status_code == change.status_code == 200, (off.text, change.text)
            final = (await http.get(f"/api/v1/staff/{staff_id}", headers=first.headers)).json()
            assert final["status"] == "deactivated", round_
            assert final["role"] == "scanner" and final["conferences"] == ["fachtag-2027"]
            assert (await http.get("/api/v1/staff", headers=target.headers)).status_code == 401
            logged = await pool.fetchval(
                "SELECT count(*) FROM audit_log WHERE action = 'staff.updated' AND subject_id = $1",
                str(staff_id),
            )
            assert logged == 2


async def test_two_conference_changes_at_once_leave_one_of_them(live_server, make_staff, pool):
    """Two admins set different conferences at once: the result is one of the two lists,
    never a mixture (the row lock makes the second wait for the first)."""
    admin = await make_staff("admin")
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        for slug in ("tag-a", "tag-b"):
            made = await http.post(
                "/api/v1/conferences", json=conference_payload(slug=slug), headers=admin.headers
            )
            assert made.status_code == 201, made.text
        for _round in range(8):
            target = await make_staff("organiser")
            staff_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", target.email)
            answers = await asyncio.gather(
                *(
                    http.patch(
                        f"/api/v1/staff/{staff_id}",
                        json={"conferences": [slug]},
                        headers=admin.headers,
                    )
                    for slug in ("tag-a", "tag-b")
                )
            )
            assert [a.status_code for a in answers] == [200, 200]
            final = (await http.get(f"/api/v1/staff/{staff_id}", headers=admin.headers)).json()
            assert final["conferences"] in (["tag-a"], ["tag-b"])


async def test_one_invitation_accepted_twice_at_once(live_server, make_staff, pool, database_url):
    """Two requests with one invitation link on a live server: one 200, one 409."""
    admin = await make_staff("admin")
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        for n in range(6):
            email = f"doppelt{n}@example.org"
            made = await http.post(
                "/api/v1/staff", json={"email": email, "role": "scanner"}, headers=admin.headers
            )
            assert made.status_code == 201, made.text
            token = await link_token(pool, SECRET_KEY, email, "invitation")
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/staff/invitations/accept",
                        json={"token": token, "password": f"{NEW_PASSWORD} {m}"},
                    )
                    for m in range(2)
                )
            )
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]


async def test_cli_staff_add_still_makes_an_active_account(pool):
    from service.staff import create_staff

    async with pool.acquire() as db:
        staff_id = await create_staff(db, "cli@example.org", "scanner", PASSWORD)
    row = await pool.fetchrow(
        "SELECT all_conferences, password_hash IS NOT NULL AS has_password FROM staff "
        "WHERE id = $1",
        staff_id,
    )
    assert row["all_conferences"] and row["has_password"]


async def test_an_administrator_has_all_conferences(client, make_staff, pool):
    admin = await make_staff("admin")
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    made = (await invite(client, admin, conferences=["fachtag-2027"])).json()
    assert made["all_conferences"] is False
    promoted = await client.patch(
        f"/api/v1/staff/{made['id']}", json={"role": "admin"}, headers=admin.headers
    )
    assert promoted.status_code == 200
    assert promoted.json()["all_conferences"] is True and promoted.json()["conferences"] == []
    limited = await client.patch(
        f"/api/v1/staff/{made['id']}", json={"conferences": ["fachtag-2027"]}, headers=admin.headers
    )
    assert limited.status_code == 400 and "conferences" in errors_of(limited)


async def test_a_deactivated_account_gets_no_link_and_its_links_stop(
    client, make_staff, pool, settings
):
    admin = await make_staff("admin")
    made = (await invite(client, admin)).json()
    token = await link_token(pool, settings.secret_key, "neu@example.org", "invitation")
    off = await client.patch(
        f"/api/v1/staff/{made['id']}", json={"active": False}, headers=admin.headers
    )
    assert off.status_code == 200
    accepted = await client.post(
        "/api/v1/staff/invitations/accept", json={"token": token, "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 409
    resent = await client.post(f"/api/v1/staff/{made['id']}/invitation", headers=admin.headers)
    assert resent.status_code == 409
    organiser = await make_staff("organiser")
    organiser_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", organiser.email)
    await client.patch(
        f"/api/v1/staff/{organiser_id}", json={"active": False}, headers=admin.headers
    )
    await client.post("/api/v1/staff/password-reset", json={"email": organiser.email})
    assert (
        await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'staff.password_reset'") == 0
    )


async def test_two_admins_demoting_each_other_at_once_leave_one(live_server, make_staff, pool):
    """Each of the only two admins demotes the other at the same moment (live server, separate
    connections): one wins, the other is refused, and one active admin remains."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        for _round in range(6):
            await pool.execute("UPDATE staff SET role = 'scanner' WHERE role = 'admin'")
            first, second = await make_staff("admin"), await make_staff("admin")
            ids = [
                await pool.fetchval("SELECT id FROM staff WHERE email = $1", a.email)
                for a in (first, second)
            ]
            answers = await asyncio.gather(
                http.patch(
                    f"/api/v1/staff/{ids[1]}", json={"role": "organiser"}, headers=first.headers
                ),
                http.patch(
                    f"/api/v1/staff/{ids[0]}", json={"role": "organiser"}, headers=second.headers
                ),
            )
            # The loser is refused by the lock (409), or, arriving after the winner's commit,
            # is no admin any more (403).
            codes = sorted(a.status_code for a in answers)
            assert codes in ([200, 403], [200, 409]), [a.text for a in answers]
            admins = await pool.fetchval("SELECT count(*) FROM staff WHERE role = 'admin'")
            assert admins == 1
