"""The team pages (/staff/team) and the pages behind the mail links (/staff/invite/{token},
/staff/reset): forms shown again with German messages next to the fields, nothing changed by
bad input, the admin's refusals explained on the page."""

from __future__ import annotations

import re

from tests.conftest import conference_payload, csrf_token, login
from tests.test_registration_pages import Node, parse
from tests.test_team_api import NEW_PASSWORD, link_token


def soup(response) -> Node:
    return parse(response.text)


def field_error(html: Node, name: str) -> str:
    """The message next to a field, without its hidden "Error:" prefix."""
    error = html.by_id(f"f-{name}-error")
    hidden = error.find("span", class_="visually-hidden")
    prefix = hidden.text if hidden else ""
    return error.text.removeprefix(prefix).strip()


async def post_form(client, path: str, data: dict, *, form_page: str | None = None):
    token = await csrf_token(client, form_page or path)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def test_invite_from_the_team_page(client, make_staff, pool):
    admin = await make_staff("admin")
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    await login(client, admin)
    page = await client.get("/staff/team")
    assert page.status_code == 200
    assert admin.email in page.text and "Person einladen" in page.text

    sent = await post_form(
        client,
        "/staff/team",
        {
            "email": "Helga@Example.org",
            "name": "Helga Hausmann",
            "role": "scanner",
            "scope": "chosen",
            "conferences": "fachtag-2027",
        },
    )
    assert sent.status_code in (302, 303), sent.text
    listing = await client.get(sent.headers["location"])
    assert "Die Einladung an helga@example.org ist unterwegs." in listing.text
    [row] = [tr for tr in soup(listing).find_all("tr") if "Helga Hausmann" in tr.text]
    cells = [td.text for td in row.find_all("td")]
    assert cells[1:4] == ["eingeladen", "Einlassdienst", "Fachtag Ehrenamt 2027"]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE kind = 'staff.invitation'") == 1


async def test_invite_form_errors_in_german_and_nothing_made(client, make_staff, pool):
    admin = await make_staff("admin")
    await login(client, admin)
    before = await pool.fetchval("SELECT count(*) FROM staff")
    answer = await post_form(
        client, "/staff/team", {"email": "kein-at", "scope": "chosen"}, form_page="/staff/team"
    )
    assert answer.status_code == 400
    html = soup(answer)
    assert field_error(html, "email").startswith("Bitte geben Sie eine gültige E-Mail-Adresse")
    assert field_error(html, "role") == "Bitte wählen Sie eine der Optionen aus."
    assert field_error(html, "conferences") == (
        "Bitte wählen Sie mindestens eine Tagung oder alle Tagungen."
    )
    assert html.by_id("f-email").get("value") == "kein-at"
    assert "E-Mail-Adresse:" in html.by_id("error-summary").text

    again = await post_form(client, "/staff/team", {"email": admin.email, "role": "admin"})
    assert again.status_code == 400
    assert field_error(soup(again), "email") == (
        "Für diese E-Mail-Adresse gibt es bereits ein Konto."
    )
    assert await pool.fetchval("SELECT count(*) FROM staff") == before
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_edit_deactivate_reactivate_and_resend(client, make_staff, pool):
    admin = await make_staff("admin")
    organiser = await make_staff("organiser")
    await client.post("/api/v1/conferences", json=conference_payload(), headers=admin.headers)
    staff_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", organiser.email)
    await login(client, admin)
    path = f"/staff/team/{staff_id}"

    saved = await post_form(
        client,
        path,
        {"name": "Olga Organ", "role": "scanner", "scope": "chosen", "conferences": "fachtag-2027"},
    )
    assert saved.status_code in (302, 303), saved.text
    page = await client.get(saved.headers["location"])
    assert "Die Änderungen sind gespeichert." in page.text
    row = await pool.fetchrow(
        "SELECT name, role, all_conferences FROM staff WHERE id = $1", staff_id
    )
    assert tuple(row) == ("Olga Organ", "scanner", False)

    nothing = await post_form(client, path, {"role": "scanner", "scope": "chosen"})
    assert nothing.status_code == 400
    assert "mindestens eine Tagung" in field_error(soup(nothing), "conferences")

    off = await post_form(client, f"{path}/deactivate", {}, form_page=path)
    assert off.status_code in (302, 303)
    page = await client.get(off.headers["location"])
    assert soup(page).by_id("member-status").text == "deaktiviert"
    assert (await client.get("/api/v1/staff", headers=organiser.headers)).status_code == 401
    on = await post_form(client, f"{path}/reactivate", {}, form_page=path)
    page = await client.get(on.headers["location"])
    assert soup(page).by_id("member-status").text == "aktiv"

    # An active account has no invitation to send again: the page says why.
    refused = await post_form(client, f"{path}/invitation", {}, form_page=path)
    assert refused.status_code == 409
    assert "bereits ein Passwort festgelegt" in refused.text
    fields = [
        e["details"]["fields"]
        for e in await pool.fetch(
            "SELECT details FROM audit_log WHERE action = 'staff.updated' ORDER BY id"
        )
    ]
    assert fields == [["conferences", "name", "role"], ["active"], ["active"]]


async def test_the_last_admin_is_refused_on_the_page(client, make_staff, pool):
    admin = await make_staff("admin")
    admin_id = await pool.fetchval("SELECT id FROM staff WHERE email = $1", admin.email)
    await login(client, admin)
    page = await client.get(f"/staff/team/{admin_id}")
    assert "Ihr eigenes Konto können Sie nicht deaktivieren." in page.text
    assert soup(page).find("form", action=f"/staff/team/{admin_id}/deactivate") is None
    demoted = await post_form(
        client, f"/staff/team/{admin_id}", {"role": "organiser", "scope": "all"}
    )
    assert demoted.status_code == 400
    assert field_error(soup(demoted), "role") == (
        "Mindestens ein aktives Administrationskonto muss erhalten bleiben."
    )
    assert await pool.fetchval("SELECT role FROM staff WHERE id = $1", admin_id) == "admin"


async def test_only_admins_see_the_team(client, make_staff):
    organiser = await make_staff("organiser")
    await login(client, organiser)
    assert (await client.get("/staff/team")).status_code == 403
    dashboard = await client.get("/staff")
    assert 'href="/staff/account"' in dashboard.text and 'href="/staff/team"' not in dashboard.text


async def test_set_password_from_the_invitation(client, make_staff, pool, settings):
    admin = await make_staff("admin")
    made = await client.post(
        "/api/v1/staff",
        json={"email": "neu@example.org", "name": "Nora Neu", "role": "organiser"},
        headers=admin.headers,
    )
    assert made.status_code == 201
    token = await link_token(pool, settings.secret_key, "neu@example.org", "invitation")
    path = f"/staff/invite/{token}"
    page = await client.get(path)
    assert page.status_code == 200 and "neu@example.org" in page.text

    cases = [
        ({"password": "", "password_repeat": ""}, "password", "Bitte füllen Sie dieses Feld aus."),
        (
            {"password": NEW_PASSWORD, "password_repeat": "anders"},
            "password_repeat",
            "Die beiden Passwörter stimmen nicht überein.",
        ),
        (
            {"password": "kurz", "password_repeat": "kurz"},
            "password",
            "Bitte geben Sie mindestens 12 Zeichen ein.",
        ),
        (
            {"password": "passwort1234", "password_repeat": "passwort1234"},
            "password",
            "Dieses Passwort gehört zu den am häufigsten verwendeten",
        ),
        (
            {"password": "Nora Neu 2027", "password_repeat": "Nora Neu 2027"},
            "password",
            "Bitte verwenden Sie Ihren Namen oder Ihre E-Mail-Adresse nicht",
        ),
    ]
    for data, name, message in cases:
        answer = await post_form(client, path, data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert field_error(soup(answer), name).startswith(message), data
    assert await pool.fetchval(
        "SELECT password_hash IS NULL FROM staff WHERE email = 'neu@example.org'"
    )

    done = await post_form(
        client, path, {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD}
    )
    assert done.status_code == 200 and "Passwort gespeichert" in done.text
    used = await client.get(path)
    assert used.status_code == 409
    assert soup(used).by_id("link-reason").text == ("Dieser Link wurde bereits verwendet.")
    unknown = await client.get("/staff/invite/" + "A" * 26)
    assert unknown.status_code == 404


async def test_forgot_password_page_answers_the_same(client, make_staff, pool):
    organiser = await make_staff("organiser")
    page = await client.get("/staff/login")
    assert 'href="/staff/reset"' in page.text and "Passwort vergessen?" in page.text
    texts = []
    for email in (organiser.email, "niemand@example.org"):
        answer = await post_form(client, "/staff/reset", {"email": email})
        assert answer.status_code == 200
        notice = soup(answer).by_id("reset-sent").text
        texts.append(notice.replace(email, "ADDRESS"))
    assert texts[0] == texts[1]
    assert "Wenn es für ADDRESS ein aktives Konto gibt" in texts[0]
    mails = await pool.fetch("SELECT recipient FROM outbox WHERE kind = 'staff.password_reset'")
    assert [m["recipient"] for m in mails] == [organiser.email]
    bad = await post_form(client, "/staff/reset", {"email": ""})
    assert bad.status_code == 400
    assert field_error(soup(bad), "email") == "Bitte füllen Sie dieses Feld aus."


async def test_expired_reset_link_offers_a_new_one(client, make_staff, pool, settings):
    organiser = await make_staff("organiser")
    await client.post("/api/v1/staff/password-reset", json={"email": organiser.email})
    token = await link_token(pool, settings.secret_key, organiser.email, "password_reset")
    await pool.execute("UPDATE staff_links SET expires_at = now() - interval '1 minute'")
    page = await client.get(f"/staff/reset/{token}")
    assert page.status_code == 409
    html = soup(page)
    assert "Dieser Link ist abgelaufen." in html.by_id("link-reason").text
    assert html.find("a", href="/staff/reset") is not None
    assert re.search(r"Neuen Link anfordern", page.text)
