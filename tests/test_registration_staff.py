"""What organisers see and do with registrations: list, search, counts, needs, cancel,
re-sent tickets, the CSV export and the staff page."""

from __future__ import annotations

import csv
import io
import re

import pytest

from service import tokens
from tests.conftest import csrf_token, login
from tests.registration_support import SLUG, confirm, make_conference, register

API = f"/api/v1/conferences/{SLUG}/registrations"
PAGE = f"/staff/conferences/{SLUG}/registrations"
NEEDS_CONSENT = {"privacy": True, "special_category": True}


async def add(client, pool, settings, email: str, *, confirmed: bool = True, **fields) -> dict:
    """Registers through the public API (and confirms); returns the confirm answer or {}."""
    fields.setdefault("name", email.split("@")[0].title())
    response = await register(client, email=email, **fields)
    assert response.status_code == 202, response.text
    if not confirmed:
        return {}
    answer = await confirm(client, pool, settings, email)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def listing(client, organiser, **params) -> dict:
    response = await client.get(API, params=params, headers=organiser.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_pages_through_everyone_once_in_id_order(client, organiser, pool, settings):
    await make_conference(client, organiser)
    for i in range(7):
        await add(client, pool, settings, f"person{i}@example.org", confirmed=i % 2 == 0)

    seen, pages, after = [], 0, None
    while True:
        params = {"limit": 3, **({"after": after} if after is not None else {})}
        body = await listing(client, organiser, **params)
        pages += 1
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        after = body["next"]
        if after is None:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(set(seen)) == 7

    first = (await listing(client, organiser, limit=1))["items"][0]
    assert set(first) == {
        "id",
        "name",
        "email",
        "organisation",
        "category",
        "language",
        "status",
        "waitlist_position",
        "created_at",
        "confirmed_at",
        "needs",
        "consents",
    }
    assert first["email"] == "person0@example.org" and first["status"] == "confirmed"
    assert first["created_at"].endswith(("+01:00", "+02:00"))  # local time with offset
    assert first["consents"] == ["privacy"]


async def test_search_by_name_email_and_organisation(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await add(client, pool, settings, "aylin@example.org", name="Aylin Demir")
    await add(client, pool, settings, "jonas@verein.example", name="Jonas Weber", organisation="")
    await add(
        client,
        pool,
        settings,
        "mira@example.org",
        name="Mira 100% Klein_Hansen",
        organisation="Caritas Linden",
    )

    async def names(q: str) -> list[str]:
        return [i["name"] for i in (await listing(client, organiser, q=q))["items"]]

    assert await names("DEMIR") == ["Aylin Demir"]
    assert await names("verein.exam") == ["Jonas Weber"]
    assert await names("caritas") == ["Mira 100% Klein_Hansen"]
    assert sorted(await names("linden")) == ["Aylin Demir", "Mira 100% Klein_Hansen"]
    # % and _ are searched for literally, not as wildcards.
    assert await names("%") == ["Mira 100% Klein_Hansen"]
    assert await names("n_h") == ["Mira 100% Klein_Hansen"]
    assert await names("y_l") == []
    assert await names("niemand") == []


async def test_filter_by_status_and_category(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    await add(client, pool, settings, "anna@example.org", category="speaker")
    await add(client, pool, settings, "ben@example.org", category="press")  # waits
    await add(client, pool, settings, "cem@example.org", category="press", confirmed=False)

    def emails(body: dict) -> list[str]:
        return [i["email"] for i in body["items"]]

    assert emails(await listing(client, organiser, status="confirmed")) == ["anna@example.org"]
    waiting = await listing(client, organiser, status="waitlisted")
    assert emails(waiting) == ["ben@example.org"]
    assert waiting["items"][0]["waitlist_position"] == 1
    assert emails(await listing(client, organiser, status="pending_confirmation")) == [
        "cem@example.org"
    ]
    assert emails(await listing(client, organiser, category="press")) == [
        "ben@example.org",
        "cem@example.org",
    ]
    both = await listing(client, organiser, category="press", status="waitlisted")
    assert emails(both) == ["ben@example.org"]
    assert emails(await listing(client, organiser, category="volunteer")) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "angemeldet"}, "status"),
        ({"category": "vip"}, "category"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "viele"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(client, organiser, params, field):
    await make_conference(client, organiser)
    response = await client.get(API, params=params, headers=organiser.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_unknown_conference_and_registration_are_404(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await make_conference(client, organiser, slug="andere-2027")
    await add(client, pool, settings, "anna@example.org")
    [anna] = (await listing(client, organiser))["items"]
    base = "/api/v1/conferences/gibt-es-nicht/registrations"
    for path in (base, f"{base}/summary", f"{base}.csv"):
        response = await client.get(path, headers=organiser.headers)
        assert response.status_code == 404, path
    # An id of one conference is not found under another.
    other = f"/api/v1/conferences/andere-2027/registrations/{anna['id']}"
    for action in ("cancel", "resend-ticket"):
        response = await client.post(f"{other}/{action}", headers=organiser.headers)
        assert response.status_code == 404
        huge = await client.post(f"{API}/{2**64}/{action}", headers=organiser.headers)
        assert huge.status_code == 404
    assert (await listing(client, organiser))["items"][0]["status"] == "confirmed"


async def test_token_required_and_scanner_refused(client, organiser, make_staff):
    await make_conference(client, organiser)
    scanner = await make_staff("scanner")
    calls = [
        ("GET", API),
        ("GET", f"{API}/summary"),
        ("GET", f"{API}.csv"),
        ("POST", f"{API}/1/cancel"),
        ("POST", f"{API}/1/resend-ticket"),
    ]
    for method, path in calls:
        anonymous = await client.request(method, path)
        assert anonymous.status_code == 401, (method, path)
        refused = await client.request(method, path, headers=scanner.headers)
        assert refused.status_code == 403, (method, path)
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_summary_counts_and_needs(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=2)
    needs_anna = {
        "accessibility": ["sign_language", "step_free"],
        "interpretation": "Arabisch",
        "dietary": ["vegan"],
        "notes": "Assistenzhund",
    }
    needs_ben = {"accessibility": ["step_free"], "interpretation": " arabisch ", "dietary": []}
    needs_cem = {"accessibility": ["wheelchair"], "interpretation": "Farsi", "dietary": ["halal"]}
    other_needs = {"accessibility": ["wheelchair"], "dietary": ["kosher"]}
    await add(client, pool, settings, "anna@example.org", needs=needs_anna, consents=NEEDS_CONSENT)
    await add(client, pool, settings, "ben@example.org", needs=needs_ben, consents=NEEDS_CONSENT)
    await add(client, pool, settings, "cem@example.org", needs=needs_cem, consents=NEEDS_CONSENT)
    await add(client, pool, settings, "dana@example.org", category="press")  # waits, no needs
    # Neither pending nor cancelled registrations count for planning.
    await add(
        client,
        pool,
        settings,
        "eva@example.org",
        confirmed=False,
        needs=other_needs,
        consents=NEEDS_CONSENT,
    )
    gone = await add(
        client, pool, settings, "fritz@example.org", needs=other_needs, consents=NEEDS_CONSENT
    )
    await client.delete(f"/api/v1/registrations/{gone['manage_token']}")  # was waiting

    response = await client.get(f"{API}/summary", headers=organiser.headers)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["by_status"] == {
        "confirmed": 2,
        "waitlisted": 2,
        "pending_confirmation": 1,
        "cancelled": 1,
    }
    assert (summary["capacity"], summary["seats_left"]) == (2, 0)
    assert summary["by_category"]["volunteer"] == {
        "confirmed": 2,
        "waitlisted": 1,
        "pending_confirmation": 1,
        "cancelled": 1,
    }
    assert summary["by_category"]["press"]["waitlisted"] == 1
    assert summary["by_category"]["speaker"] == dict.fromkeys(summary["by_status"], 0)

    needs = summary["needs"]
    assert (needs["people"], needs["with_needs"], needs["notes"]) == (4, 3, 1)
    assert needs["accessibility"] == {
        "wheelchair": 1,
        "step_free": 2,
        "sign_language": 1,
        "induction_loop": 0,
        "easy_language": 0,
        "other": 0,
    }
    assert needs["dietary"]["vegan"] == 1 and needs["dietary"]["halal"] == 1
    assert needs["dietary"]["kosher"] == 0
    languages = {e["language"].lower(): e["count"] for e in needs["interpretation"]}
    assert languages == {"arabisch": 2, "farsi": 1}
    assert needs["interpretation"][0]["count"] == 2  # most asked first

    # The list shows a person's needs (they consented) in full.
    anna = (await listing(client, organiser, q="anna@"))["items"][0]
    assert anna["needs"]["accessibility"] == ["sign_language", "step_free"]
    assert anna["consents"] == ["privacy", "special_category"]


async def test_needs_without_consent_are_not_shown(client, organiser, pool, settings):
    """Needs stored without the Art. 9 consent (e.g. a consent record removed later) stay
    out of the list and the summary."""
    await make_conference(client, organiser)
    await add(
        client,
        pool,
        settings,
        "anna@example.org",
        needs={"accessibility": ["wheelchair"]},
        consents=NEEDS_CONSENT,
    )
    async with pool.acquire() as db:
        await db.execute("DELETE FROM consents WHERE kind = 'special_category'")
    [anna] = (await listing(client, organiser))["items"]
    assert anna["needs"]["accessibility"] == []
    summary = (await client.get(f"{API}/summary", headers=organiser.headers)).json()
    assert summary["needs"]["accessibility"]["wheelchair"] == 0
    assert summary["needs"]["people"] == 1 and summary["needs"]["with_needs"] == 0


async def test_staff_cancel_promotes_the_first_waiting(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    await add(client, pool, settings, "anna@example.org")
    ben = await add(client, pool, settings, "ben@example.org")
    await add(client, pool, settings, "cem@example.org")
    ids = {i["email"]: i["id"] for i in (await listing(client, organiser))["items"]}

    response = await client.post(
        f"{API}/{ids['anna@example.org']}/cancel", headers=organiser.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["email"] == "anna@example.org"

    status = {i["email"]: i for i in (await listing(client, organiser))["items"]}
    assert status["ben@example.org"]["status"] == "confirmed"
    assert status["cem@example.org"]["waitlist_position"] == 1
    mine = (await client.get(f"/api/v1/registrations/{ben['manage_token']}")).json()
    assert mine["ticket"] is not None
    async with pool.acquire() as db:
        kinds = await db.fetch("SELECT recipient, kind FROM outbox ORDER BY id")
    assert ("ben@example.org", "registration.promoted") in [tuple(k) for k in kinds]
    assert ("anna@example.org", "registration.cancelled") in [tuple(k) for k in kinds]

    again = await client.post(f"{API}/{ids['anna@example.org']}/cancel", headers=organiser.headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_resend_ticket_issues_a_new_secret(client, organiser, pool, settings):
    await make_conference(client, organiser)
    anna = await add(client, pool, settings, "anna@example.org")
    await add(client, pool, settings, "ben@example.org", confirmed=False)
    ids = {i["email"]: i["id"] for i in (await listing(client, organiser))["items"]}
    manage = f"/api/v1/registrations/{anna['manage_token']}"
    old_secret = (await client.get(manage)).json()["ticket"]["secret"]

    response = await client.post(
        f"{API}/{ids['anna@example.org']}/resend-ticket", headers=organiser.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"

    new_secret = (await client.get(manage)).json()["ticket"]["secret"]
    assert new_secret != old_secret
    async with pool.acquire() as db:
        hashes = [r["ticket_hash"] for r in await db.fetch("SELECT ticket_hash FROM registrations")]
        mails = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE recipient = 'anna@example.org' "
            "AND kind = 'registration.ticket'"
        )
    assert tokens.digest(old_secret) not in hashes
    assert tokens.digest(new_secret) in hashes
    assert mails == 2  # on confirmation, and now again

    pending = await client.post(
        f"{API}/{ids['ben@example.org']}/resend-ticket", headers=organiser.headers
    )
    assert pending.status_code == 409
    assert pending.json()["detail"]


async def test_csv_export_for_excel_without_formulas(client, organiser, pool, settings):
    await make_conference(client, organiser)
    await add(client, pool, settings, "anna@example.org", name="Änne Müller; Jr.")
    await add(
        client,
        pool,
        settings,
        "evil@example.org",
        name='=HYPERLINK("http://evil.example","klick")',
        organisation="@SUM(1+1)",
        confirmed=False,
    )
    response = await client.get(f"{API}.csv", headers=organiser.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert "no-store" in response.headers["cache-control"]
    assert response.content.startswith(b"\xef\xbb\xbf")

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert list(rows[0]) == [
        "id",
        "name",
        "email",
        "organisation",
        "category",
        "language",
        "status",
        "waitlist_position",
        "created_at",
        "confirmed_at",
        "photos_consent",
    ]
    assert len(rows) == 2
    assert rows[0]["name"] == "Änne Müller; Jr." and rows[0]["status"] == "confirmed"
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.example","klick")'
    assert rows[1]["organisation"] == "'@SUM(1+1)"
    assert rows[1]["confirmed_at"] == ""

    only_confirmed = await client.get(
        f"{API}.csv", params={"status": "confirmed"}, headers=organiser.headers
    )
    assert only_confirmed.text.count("\r\n") == 2  # header and Änne


async def test_openapi_documents_the_staff_endpoints(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    base = "/api/v1/conferences/{slug}/registrations"
    for path, method in [
        (base, "get"),
        (f"{base}/summary", "get"),
        (f"{base}.csv", "get"),
        (base + "/{registration_id}/cancel", "post"),
        (base + "/{registration_id}/resend-ticket", "post"),
    ]:
        operation = paths[path][method]
        assert operation["summary"]
        assert operation["security"] == [{"BearerToken": []}]


async def test_staff_page_lists_counts_and_escapes_names(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    await add(client, pool, settings, "anna@example.org", name="<script>x</script>")
    await add(client, pool, settings, "ben@example.org", name="Ben Berg", organisation="Tafel")
    await login(client, organiser)

    response = await client.get(PAGE)
    assert response.status_code == 200, response.text
    html = response.text
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'id="count-confirmed">1<' in html and 'id="count-waitlisted">1<' in html
    assert 'id="count-seats-left">0<' in html
    assert "Ben Berg" in html and "Tafel" in html
    assert '<th scope="col">' in html and '<label for="f-q">' in html
    assert f"/api/v1/conferences/{SLUG}/registrations.csv" in html
    assert "private" in response.headers["cache-control"]

    found = await client.get(PAGE, params={"q": "berg", "status": "waitlisted"})
    assert "Ben Berg" in found.text and "&lt;script&gt;" not in found.text
    bad = await client.get(PAGE, params={"status": "irgendwas"})
    assert bad.status_code == 400 and 'id="f-status-error"' in bad.text
    assert 'href="#f-status"' in bad.text and 'aria-invalid="true"' in bad.text

    unknown = await client.get(f"{PAGE}/999/cancel")
    assert unknown.status_code == 404
    assert (await client.get(f"{PAGE}/1/delete")).status_code == 404


async def test_staff_page_paginates(client, organiser, pool, settings):
    await make_conference(client, organiser)
    for i in range(3):
        await add(client, pool, settings, f"p{i}@example.org", name=f"Person {i}")
    await login(client, organiser)
    first = await client.get(PAGE, params={"limit": 2})
    assert "Person 0" in first.text and "Person 2" not in first.text
    assert 'rel="next"' in first.text
    href = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert href.startswith(PAGE) and "limit=2" in href
    second = await client.get(href.replace("&amp;", "&"))
    assert "Person 2" in second.text and "Person 0" not in second.text
    assert 'rel="next"' not in second.text
    assert f'href="{PAGE}?limit=2">' in second.text  # back to the first page


async def test_staff_page_counts_a_search_only_up_to_a_cap(
    client, organiser, pool, settings, monkeypatch
):
    monkeypatch.setattr("registration.staff_pages.COUNT_CAP", 2)
    await make_conference(client, organiser)
    for i, category in enumerate(("volunteer", "volunteer", "press")):
        await add(
            client, pool, settings, f"p{i}@example.org", name=f"Person {i}", category=category
        )
    await add(client, pool, settings, "anna@example.org", name="Anna", confirmed=False)
    await login(client, organiser)

    def found(html: str) -> str:
        return html.split('<p id="matching" role="status">')[1].split("</p>")[0]

    async def page(**params) -> str:
        response = await client.get(PAGE, params={"lang": "en", **params})
        assert response.status_code == 200
        return response.text

    async def page_at(url: str) -> str:
        response = await client.get(url)
        assert response.status_code == 200
        return response.text

    def next_link(html: str) -> str | None:
        match = re.search(r'<a href="([^"]+)" rel="next">', html)
        return match.group(1).replace("&amp;", "&") if match else None

    # A search is counted in SQL, up to the cap: beyond it the page says "more than".
    assert found(await page(q="example")) == "More than 2 registrations found."
    assert found(await page(q="Person")) == "More than 2 registrations found."
    assert found(await page(q="Person", category="volunteer")) == "2 registrations found."
    assert found(await page(q="anna")) == "1 registration found."
    assert found(await page(q="nobody")) == "0 registrations found."
    # Without a search the counts by status and category say it exactly, whatever the cap.
    assert found(await page()) == "4 registrations found."
    assert found(await page(status="confirmed")) == "3 registrations found."
    assert found(await page(category="volunteer")) == "3 registrations found."
    assert found(await page(category="volunteer", status="confirmed")) == "2 registrations found."
    assert found(await page(status="cancelled")) == "0 registrations found."
    german = await client.get(PAGE, params={"lang": "de", "q": "example"})
    assert found(german.text) == "Mehr als 2 Anmeldungen gefunden."

    # A search pages like the whole list, whether its matches are over the cap or not.
    everyone = [i["id"] for i in (await listing(client, organiser))["items"]]
    for cap in (2, 10):
        monkeypatch.setattr("registration.staff_pages.COUNT_CAP", cap)
        pages, url = [], f"{PAGE}?q=example&limit=3&lang=en"
        while url:
            html = await page_at(url)
            pages.append([int(i) for i in re.findall(r'<tr id="registration-(\d+)">', html)])
            url = next_link(html)
        assert [i for p in pages for i in p] == everyone and len(pages) == 2, cap


async def test_staff_cancel_with_confirmation_step(client, organiser, pool, settings):
    await make_conference(client, organiser, capacity=1)
    await add(client, pool, settings, "anna@example.org", name="Anna <b>Alt</b>")
    await add(client, pool, settings, "ben@example.org", name="Ben Berg")
    [anna_id, ben_id] = [i["id"] for i in (await listing(client, organiser))["items"]]
    await login(client, organiser)

    list_page = (await client.get(PAGE, params={"q": "a"})).text
    confirm_path = f"{PAGE}/{anna_id}/cancel"
    assert confirm_path in list_page

    page = await client.get(confirm_path, params={"q": "a"})
    assert page.status_code == 200
    assert "Anna &lt;b&gt;Alt&lt;/b&gt;" in page.text
    assert 'name="q" value="a"' in page.text
    # Opening the confirmation page changes nothing.
    assert (await listing(client, organiser))["items"][0]["status"] == "confirmed"

    forged = await client.post(confirm_path, data={}, follow_redirects=False)
    assert forged.status_code == 403
    assert (await listing(client, organiser))["items"][0]["status"] == "confirmed"

    token = await csrf_token(client, confirm_path)
    done = await client.post(
        confirm_path, data={"_csrf_token": token, "q": "a"}, follow_redirects=False
    )
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.startswith(PAGE) and "done=cancel" in location and "q=a" in location
    after = await client.get(location)
    assert 'role="status"' in after.text and "Anna &lt;b&gt;Alt&lt;/b&gt;" in after.text
    statuses = {i["id"]: i["status"] for i in (await listing(client, organiser))["items"]}
    assert statuses == {anna_id: "cancelled", ben_id: "confirmed"}

    # Resending Ben's ticket goes the same way.
    resend_path = f"{PAGE}/{ben_id}/resend-ticket"
    token = await csrf_token(client, resend_path)
    resent = await client.post(resend_path, data={"_csrf_token": token}, follow_redirects=False)
    assert resent.status_code == 303 and "done=resend-ticket" in resent.headers["location"]


async def test_staff_pages_need_an_organiser(client, organiser, make_staff):
    await make_conference(client, organiser)
    anonymous = await client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/staff/login")
    await login(client, await make_staff("scanner"))
    assert (await client.get(PAGE)).status_code == 403
