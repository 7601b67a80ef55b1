"""The market of opportunities in HTML: the booking request form, the exhibitor page
(`/x/{token}`: status, stand, directory entry, passes, withdrawal) and the staff pages (stand
catalogue, review of requests).

Wording is checked in English (`?lang=en`, kept by the language cookie) where the German
translation may still change. The pages are read with the small HTML tree of the registration
page tests, so that labels, messages and selects are checked as they are wired.
"""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import csrf_token, login
from tests.exhibitor_support import SLUG, make_stand, request_and_confirm
from tests.registration_support import make_conference
from tests.test_registration_pages import (
    controls,
    expect_field_error,
    label_of,
    legend_of,
    parse,
)

FORM = f"/conferences/{SLUG}/exhibit"
STANDS = f"/staff/conferences/{SLUG}/stands"
REVIEW = f"/staff/conferences/{SLUG}/exhibitors"
SCRIPT = "<script>alert(1)</script>"


def request_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation": "Caritasverband Hannover e. V.",
        "kind": "welfare_association",
        "contact_name": "Petra Schulz",
        "email": "markt@caritas.example",
        "phone": "+49 511 123456",
        "website": "https://caritas.example",
        "description": "Beratung für Geflüchtete und Ehrenamtliche.",
        "description_en": "Counselling for refugees and volunteers.",
        "topics": ["Beratung", "Ehrenamt"],
        "other_topics": "Frauen, Digitales",
        "wished_width_m": "2,5",
        "wished_depth_m": "",
        "wished_features": ["power"],
        "staff_count": "2",
        "language": "de",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


async def post_request(client, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    token = await csrf_token(client, f"{FORM}?lang=en")
    return await client.post(FORM, data={**data, "_csrf_token": token})


async def post_page(client, page: str, action: str, data: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """Opens `page` for its CSRF token and posts `data` to `action` (redirects not followed)."""
    token = await csrf_token(client, page)
    return await client.post(
        action, data={**(data or {}), "_csrf_token": token}, follow_redirects=False
    )


async def count(pool, sql: str, *args: Any) -> int:  # type: ignore[no-untyped-def]
    async with pool.acquire() as db:
        return await db.fetchval(sql, *args)


def option_texts(doc, select_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o.text for o in doc.by_id(select_id).find_all("option")]


async def approve_on_page(client, booking_id: int, stand_id: int):  # type: ignore[no-untyped-def]
    return await post_page(
        client, REVIEW, f"{REVIEW}/{booking_id}/approve", {"stand_id": str(stand_id)}
    )


# ── the request form ────────────────────────────────────────────────────────────────────


async def test_request_form_has_a_label_for_every_control(client, organiser):
    await make_conference(client, organiser)
    page = await client.get(f"{FORM}?lang=en")
    assert page.status_code == 200
    doc = parse(page.text)
    form = doc.find("form", action=FORM)
    assert form is not None
    for control in controls(form):
        assert label_of(doc, control), f"no label for {control.attrs}"
    assert label_of(doc, doc.by_id("f-organisation")).startswith("Organisation")
    assert legend_of(doc.by_id("f-kind")).startswith("Kind of organisation")
    assert legend_of(doc.by_id("f-topics")).startswith("Topics")
    assert legend_of(doc.by_id("f-wished_features")).startswith("Your stand needs")
    kinds = [c.get("value") for c in form.find_all("input", name="kind")]
    assert kinds == [
        "association",
        "welfare_association",
        "agency",
        "municipality",
        "initiative",
        "other",
    ]
    topics = [c.get("value") for c in form.find_all("input", name="topics")]
    assert "Kinder und Familie" in topics and len(topics) == 8
    ids = [c.get("id") or "" for c in form.iter() if c.get("id")]
    assert len(ids) == len(set(ids)) and not any(" " in i for i in ids)
    assert doc.by_id("f-staff_count").get("value") == "2"


async def test_invalid_request_names_each_field_and_stores_nothing(client, organiser, pool):
    await make_conference(client, organiser)
    response = await post_request(
        client,
        request_form(
            organisation="",
            website="javascript:x",
            wished_width_m="-2",
            other_topics="<b>Frauen</b>",
            staff_count="51",
            contact_name="Petra <Schulz>",
        ),
    )
    assert response.status_code == 400
    doc = parse(response.text)
    assert expect_field_error(doc, "organisation") == "Please fill in this field."
    assert "https://" in expect_field_error(doc, "website")
    assert "greater than 0" in expect_field_error(doc, "wished_width_m")
    assert "<" in expect_field_error(doc, "other_topics")
    assert "0 to 50" in expect_field_error(doc, "staff_count")
    # What was typed comes back, escaped; ticked boxes stay ticked.
    assert doc.by_id("f-contact_name").get("value") == "Petra <Schulz>"
    assert "Petra <Schulz>" not in response.text
    assert doc.by_id("f-website").get("value") == "javascript:x"
    assert doc.find("input", name="topics", value="Ehrenamt").attrs.keys() >= {"checked"}
    assert doc.by_id("f-kind-welfare_association").attrs.keys() >= {"checked"}
    assert await count(pool, "SELECT count(*) FROM exhibitor_bookings") == 0
    assert await count(pool, "SELECT count(*) FROM outbox") == 0

    too_many = await post_request(
        client, request_form(other_topics="a, b, c, d, e, f, g, h, i, j", topics=["Wohnen"])
    )
    assert too_many.status_code == 400
    assert "At most 10 topics" in expect_field_error(parse(too_many.text), "other_topics")
    assert await count(pool, "SELECT count(*) FROM exhibitor_bookings") == 0


async def test_valid_request_shows_the_inbox_page_the_same_for_a_known_address(
    client, organiser, pool
):
    await make_conference(client, organiser)
    first = await post_request(client, request_form())
    assert first.status_code == 200, first.text
    assert "Please check your inbox" in first.text and "markt@caritas.example" in first.text
    async with pool.acquire() as db:
        row = await db.fetchrow("SELECT * FROM exhibitor_bookings")
    assert row["status"] == "pending_confirmation"
    assert row["topics"] == ["Beratung", "Ehrenamt", "Frauen", "Digitales"]
    assert float(row["wished_width_m"]) == 2.5 and row["wished_depth_m"] is None
    assert row["wished_features"] == ["power"] and row["staff_count"] == 2
    assert row["kind"] == "welfare_association" and row["description_en"]

    again = await post_request(client, request_form(organisation="Someone else"))
    assert again.status_code == 200
    assert again.text == first.text
    assert await count(pool, "SELECT count(*) FROM exhibitor_bookings") == 1


# ── the exhibitor page ──────────────────────────────────────────────────────────────────


async def test_exhibitor_page_status_directory_and_passes_before_approval(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    _booking_id, token = await request_and_confirm(client, pool, settings)
    page_url = f"/x/{token}"
    page = await client.get(f"{page_url}?lang=en&confirmed=1")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["x-robots-tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in page.text
    doc = parse(page.text)
    assert doc.by_id("status").get("data-status") == "requested"
    assert "reviewing" in doc.by_id("status").text
    assert "confirmed" in page.text
    assert doc.find("img", id="floorplan") is None  # no stand yet

    # The directory entry: CSRF is required, then saved.
    refused = await client.post(
        f"{page_url}/directory", data={"description": "x"}, follow_redirects=False
    )
    assert refused.status_code == 403
    saved = await post_page(
        client,
        page_url,
        f"{page_url}/directory",
        {
            "description": "Neue Beschreibung.",
            "description_en": "New description.",
            "topics": ["Wohnen"],
            "other_topics": "Frauen",
            "website": "https://caritas-hannover.example",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].startswith(page_url)
    assert saved.headers["cache-control"] == "private, no-store"
    api = (await client.get(f"/api/v1/exhibitor-bookings/{token}")).json()["directory"]
    assert api["description"] == "Neue Beschreibung." and api["topics"] == ["Wohnen", "Frauen"]
    assert api["website"] == "https://caritas-hannover.example"
    after = parse((await client.get(page_url)).text)
    assert after.find("input", name="topics", value="Wohnen").attrs.keys() >= {"checked"}
    assert after.by_id("f-other_topics").get("value") == "Frauen"

    bad = await post_page(
        client, page_url, f"{page_url}/directory", {"description": "x", "website": "ftp://x.y"}
    )
    assert bad.status_code == 400
    assert "https://" in expect_field_error(parse(bad.text), "website")

    # No passes before the stand is approved: the reason is shown, nothing stored.
    early = await post_page(
        client,
        page_url,
        f"{page_url}/passes",
        {"pass_name": "Jonas", "pass_email": "jonas@example.org", "pass_language": "de"},
    )
    assert early.status_code == 409
    assert "once the stand is approved" in parse(early.text).by_id("pass-problem").text
    assert await count(pool, "SELECT count(*) FROM exhibitor_passes") == 0

    forged = await client.get("/x/ABCDEFGHJKMNPQRSTUVWXYZ234")
    assert forged.status_code == 404


async def test_approve_on_the_staff_page_then_passes_and_withdrawal(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="A3", max_staff=2)
    booking_id, token = await request_and_confirm(client, pool, settings)
    page_url = f"/x/{token}"
    await login(client, organiser)

    approved = await approve_on_page(client, booking_id, stand["id"])
    assert approved.status_code == 303, approved.text
    listed = await client.get(approved.headers["location"] + "&lang=en")
    assert "is approved on stand A3" in listed.text

    page = await client.get(f"{page_url}?lang=en")
    doc = parse(page.text)
    assert doc.by_id("status").get("data-status") == "approved"
    assert doc.by_id("stand-code").text == "A3"
    plan = doc.by_id("floorplan")
    assert plan.get("src") == f"/conferences/{SLUG}/floorplan.svg?highlight=A3"
    assert "A3" in (plan.get("alt") or "")

    for name, email in (("Jonas Weber", "jonas@example.org"), ("Mira Aydin", "mira@example.org")):
        added = await post_page(
            client,
            page_url,
            f"{page_url}/passes",
            {"pass_name": name, "pass_email": email, "pass_language": "en"},
        )
        assert added.status_code == 303, added.text
    doc = parse((await client.get(page_url)).text)
    rows = doc.by_id("pass-list").find("tbody").find_all("tr")
    assert [r.find("th").text for r in rows] == ["Jonas Weber", "Mira Aydin"]
    assert doc.find(id="passes-full") is not None

    third = await post_page(
        client,
        page_url,
        f"{page_url}/passes",
        {"pass_name": "Third", "pass_email": "third@example.org", "pass_language": "de"},
    )
    assert third.status_code == 409
    assert "passes for 2 people" in parse(third.text).by_id("pass-problem").text
    assert "third@example.org" in third.text  # what was typed stays in the form
    assert await count(pool, "SELECT count(*) FROM exhibitor_passes") == 2

    invalid = await post_page(
        client, page_url, f"{page_url}/passes", {"pass_name": "", "pass_email": "nope"}
    )
    assert invalid.status_code == 400
    invalid_doc = parse(invalid.text)
    expect_field_error(invalid_doc, "pass_name")
    expect_field_error(invalid_doc, "pass_email")

    # Remove a pass: a confirmation page first; opening it changes nothing.
    jonas = rows[0].get("id").removeprefix("pass-")
    confirm = await client.get(f"{page_url}/passes/{jonas}/remove?lang=en")
    assert confirm.status_code == 200 and "Jonas Weber" in confirm.text
    assert confirm.headers["cache-control"] == "private, no-store"
    assert await count(pool, "SELECT count(*) FROM registrations WHERE status = 'confirmed'") == 2
    removed = await post_page(
        client, f"{page_url}/passes/{jonas}/remove", f"{page_url}/passes/{jonas}/remove"
    )
    assert removed.status_code == 303
    doc = parse((await client.get(page_url)).text)
    names = [r.find("th").text for r in doc.by_id("pass-list").find("tbody").find_all("tr")]
    assert names == ["Mira Aydin"]
    assert await count(pool, "SELECT status FROM registrations WHERE id = $1", int(jonas)) == (
        "cancelled"
    )
    assert (await client.get(f"{page_url}/passes/{jonas}/remove")).status_code == 404

    # Withdraw the booking: asked first, then the stand is free and the passes stop.
    ask = await client.get(f"{page_url}/cancel?lang=en")
    assert ask.status_code == 200 and "Yes, withdraw our booking" in ask.text
    withdrawn = await post_page(client, f"{page_url}/cancel", f"{page_url}/cancel")
    assert withdrawn.status_code == 303
    doc = parse((await client.get(f"{page_url}?lang=en")).text)
    assert doc.by_id("status").get("data-status") == "cancelled"
    assert await count(pool, "SELECT count(*) FROM registrations WHERE status = 'confirmed'") == 0
    stands = (await client.get(f"/api/v1/conferences/{SLUG}/stands")).json()
    assert stands[0]["booked_by"] is None


# ── review by staff ─────────────────────────────────────────────────────────────────────


async def test_only_fitting_stands_are_offered_and_a_misfit_is_refused_with_the_reason(
    client, organiser, pool, settings
):
    await make_conference(client, organiser)
    small = await make_stand(client, organiser, code="A1", width_m=2, features=["power"])
    await make_stand(client, organiser, code="A2", blocked=True)
    await make_stand(client, organiser, code="A3")
    await make_stand(client, organiser, code="A4", features=["table"])  # no power
    booking_id, _token = await request_and_confirm(client, pool, settings)
    await login(client, organiser)

    page = await client.get(f"{REVIEW}?lang=en")
    assert page.status_code == 200
    assert set(page.headers["cache-control"].split(", ")) == {"private", "no-store"}
    doc = parse(page.text)
    offered = option_texts(doc, f"approve-{booking_id}-stand")
    assert [o.split(" – ")[0] for o in offered] == ["A3"]
    assert doc.by_id("count-free").text == "3" and doc.by_id("count-blocked").text == "1"
    assert doc.by_id("count-requested").text == "1"
    card = doc.by_id(f"booking-{booking_id}")
    assert "Beratung" in card.text and "Caritasverband Hannover e. V." in card.text

    refused = await approve_on_page(client, booking_id, small["id"])
    assert refused.status_code == 409
    assert "narrower than requested" in parse(refused.text).by_id("problem").text
    assert await count(pool, "SELECT count(*) FROM exhibitor_bookings WHERE stand_id IS NULL") == 1

    # The waiting list, then reject with a reason (asked first).
    waiting = await post_page(
        client, REVIEW, f"{REVIEW}/{booking_id}/waitlist", {"reason": "Erst nach Ostern."}
    )
    assert waiting.status_code == 303
    doc = parse((await client.get(f"{REVIEW}?lang=en")).text)
    assert doc.by_id("count-waitlisted").text == "1"
    reject_page = f"{REVIEW}/{booking_id}/reject"
    empty = await post_page(client, reject_page, reject_page, {"reason": "  "})
    assert empty.status_code == 400
    assert "reason" in expect_field_error(parse(empty.text), "reason")
    rejected = await post_page(
        client, reject_page, reject_page, {"reason": "Leider sind alle Stände vergeben."}
    )
    assert rejected.status_code == 303
    again = await post_page(client, REVIEW, f"{REVIEW}/{booking_id}/approve", {"stand_id": "x"})
    assert again.status_code == 400

    shown = parse((await client.get(f"/x/{_token}?lang=en")).text)
    assert shown.by_id("status").get("data-status") == "rejected"
    assert shown.by_id("reason").text == "Leider sind alle Stände vergeben."
    assert shown.find("form", action=f"/x/{_token}/directory") is None


async def test_reassign_and_release_on_the_staff_page(client, organiser, pool, settings):
    await make_conference(client, organiser)
    first = await make_stand(client, organiser, code="A1")
    await make_stand(client, organiser, code="A2")
    booking_id, token = await request_and_confirm(client, pool, settings)
    await login(client, organiser)
    assert (await approve_on_page(client, booking_id, first["id"])).status_code == 303

    doc = parse((await client.get(REVIEW)).text)
    offered = option_texts(doc, f"reassign-{booking_id}-stand")
    assert [o.split(" – ")[0] for o in offered] == ["A2"]
    second = doc.by_id(f"reassign-{booking_id}-stand").find("option").get("value")
    moved = await post_page(client, REVIEW, f"{REVIEW}/{booking_id}/reassign", {"stand_id": second})
    assert moved.status_code == 303
    assert parse((await client.get(f"/x/{token}")).text).by_id("stand-code").text == "A2"

    release_page = f"{REVIEW}/{booking_id}/release"
    asked = await client.get(f"{release_page}?lang=en")
    assert asked.status_code == 200 and "Yes, release the stand" in asked.text
    released = await post_page(client, release_page, release_page)
    assert released.status_code == 303
    doc = parse((await client.get(f"{REVIEW}?lang=en")).text)
    assert doc.by_id("count-booked").text == "0" and doc.by_id("count-requested").text == "1"


# ── the stand catalogue ─────────────────────────────────────────────────────────────────


def row_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "row_prefix": "C",
        "row_first_number": "1",
        "row_count": "5",
        "row_area": "Halle 2",
        "row_width_m": "2",
        "row_depth_m": "2",
        "row_x": "0",
        "row_y": "10",
        "row_direction": "right",
        "row_gap_m": "0,5",
        "row_features": ["power"],
        "row_price": "25,50",
        "row_max_staff": "3",
    }
    data.update(overrides)
    return data


async def test_stand_catalogue_add_a_row_one_stand_and_block(client, organiser, pool):
    await make_conference(client, organiser)
    await login(client, organiser)
    page = await client.get(f"{STANDS}?lang=en")
    assert page.status_code == 200 and parse(page.text).find(id="no-stands") is not None

    added = await post_page(client, STANDS, f"{STANDS}/row", row_form())
    assert added.status_code == 303, added.text
    page = await client.get(added.headers["location"] + "&lang=en")
    assert "5 stands added" in page.text
    doc = parse(page.text)
    rows = doc.by_id("stands").find("tbody").find_all("tr")
    assert [r.find("th").text for r in rows] == ["C1", "C2", "C3", "C4", "C5"]
    assert "25.50" in rows[0].text and "Power socket" in rows[0].text
    async with pool.acquire() as db:
        xs = [float(r["x"]) for r in await db.fetch("SELECT x FROM stands ORDER BY code")]
    assert xs == [0, 2.5, 5, 7.5, 10]

    bad = await post_page(
        client, STANDS, f"{STANDS}/row", row_form(row_count="0", row_width_m="-1", row_prefix="B1")
    )
    assert bad.status_code == 400
    bad_doc = parse(bad.text)
    for name in ("row_count", "row_width_m", "row_prefix"):
        expect_field_error(bad_doc, name)
    taken = await post_page(client, STANDS, f"{STANDS}/row", row_form(row_first_number="5"))
    assert taken.status_code == 409
    assert "C5" in expect_field_error(parse(taken.text), "row_prefix")
    assert await count(pool, "SELECT count(*) FROM stands") == 5

    one = {
        "code": "B1",
        "area": "Foyer",
        "width_m": "3",
        "depth_m": "2",
        "x": "0",
        "y": "0",
        "features": ["wall", "table"],
        "price": "0",
        "max_staff": "4",
    }
    assert (await post_page(client, STANDS, STANDS, one)).status_code == 303
    duplicate = await post_page(client, STANDS, STANDS, one)
    assert duplicate.status_code == 409
    assert "already exists" in expect_field_error(parse(duplicate.text), "code")
    invalid = await post_page(client, STANDS, STANDS, {**one, "code": "<b>", "depth_m": "0"})
    assert invalid.status_code == 400
    expect_field_error(parse(invalid.text), "code")
    expect_field_error(parse(invalid.text), "depth_m")

    b1 = await count(pool, "SELECT id FROM stands WHERE code = 'B1'")
    blocked = await post_page(client, STANDS, f"{STANDS}/{b1}/block", {"blocked": "yes"})
    assert blocked.status_code == 303
    doc = parse((await client.get(f"{STANDS}?lang=en")).text)
    assert doc.by_id(f"stand-{b1}").find("td", **{"data-status": "blocked"}) is not None
    assert doc.by_id("count-blocked").text == "1" and doc.by_id("count-free").text == "5"
    unblocked = await post_page(client, STANDS, f"{STANDS}/{b1}/block", {"blocked": "no"})
    assert unblocked.status_code == 303
    assert await count(pool, "SELECT count(*) FROM stands WHERE blocked") == 0


async def test_staff_pages_are_for_organisers_only(client, organiser, make_staff):
    await make_conference(client, organiser)
    for path in (STANDS, REVIEW):
        anonymous = await client.get(path, follow_redirects=False)
        assert anonymous.status_code in (302, 303)
        assert anonymous.headers["location"].startswith("/staff/login?next=")
    scanner = await make_staff("scanner")
    await login(client, scanner)
    for path in (STANDS, REVIEW):
        assert (await client.get(path)).status_code == 403
    token = await csrf_token(client, "/staff/login")
    forbidden = await client.post(f"{STANDS}/row", data={**row_form(), "_csrf_token": token})
    assert forbidden.status_code == 403


# ── escaping ────────────────────────────────────────────────────────────────────────────


async def test_markup_in_names_is_escaped_on_every_page(client, organiser, pool, settings):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="A3")
    booking_id, token = await request_and_confirm(
        client,
        pool,
        settings,
        organisation=f"{SCRIPT} e. V.",
        contact_name=f"Petra {SCRIPT}",
        description=f"Wir {SCRIPT} beraten.",
    )
    await login(client, organiser)
    pages = [f"/x/{token}", f"/x/{token}/cancel", REVIEW, f"{REVIEW}/{booking_id}/reject"]
    assert (await approve_on_page(client, booking_id, stand["id"])).status_code == 303
    added = await post_page(
        client,
        f"/x/{token}",
        f"/x/{token}/passes",
        {"pass_name": f"Jonas {SCRIPT}", "pass_email": "jonas@example.org", "pass_language": "de"},
    )
    assert added.status_code == 303
    pass_id = await count(pool, "SELECT registration_id FROM exhibitor_passes")
    pages += [
        f"{REVIEW}?done=approve&id={booking_id}",
        f"{REVIEW}/{booking_id}/release",
        STANDS,
        f"/x/{token}/passes/{pass_id}/remove",
    ]
    for path in pages:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert SCRIPT not in response.text, path
        assert "&lt;script&gt;" in response.text, path
    # Typed into the form: escaped when shown again.
    shown = await post_request(client, request_form(organisation=SCRIPT, email="x"))
    assert shown.status_code == 400
    assert SCRIPT not in shown.text and "&lt;script&gt;" in shown.text


def test_no_template_shows_unescaped_output() -> None:
    """A reviewer's guard: `| safe` only for the CSRF field in these templates."""
    from pathlib import Path

    folder = Path(__file__).parent.parent / "exhibitors" / "templates" / "exhibitors"
    mine = ["request", "check_inbox", "manage", "remove_pass", "cancel", "_staff_links"]
    mine += ["staff_stands", "staff_exhibitors", "staff_confirm"]
    for template in (folder / f"{name}.html" for name in mine):
        for match in re.finditer(r"\{\{(.*?)\|\s*safe", template.read_text()):
            assert "csrf_input" in match.group(1), (template.name, match.group(0))


async def test_outside_the_window_the_form_says_so_and_stores_nothing(client, organiser, pool):
    await make_conference(
        client,
        organiser,
        registration_opens_at="2027-04-01T09:00:00+02:00",
        registration_closes_at="2027-05-09T18:00:00+02:00",
    )
    page = await client.get(f"{FORM}?lang=en")
    assert page.status_code == 200
    doc = parse(page.text)
    assert "not opened yet" in doc.by_id("booking-closed").text
    assert doc.find("form", action=FORM) is None
    token = await csrf_token(client, "/staff/login")
    response = await client.post(FORM, data={**request_form(), "_csrf_token": token})
    assert response.status_code == 409 and "not opened yet" in response.text
    assert await count(pool, "SELECT count(*) FROM exhibitor_bookings") == 0
