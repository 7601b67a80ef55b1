"""The floor plan (SVG) and the public exhibitor directory page."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from exhibitors.floorplan import PlanStand, render, wrap
from tests.exhibitor_support import SLUG, make_stand, request_and_confirm
from tests.registration_support import make_conference

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert(1)</script> & "Co" <img src=x onerror=alert(2)>'


async def approve(client, organiser, booking_id: int, stand_id: int) -> None:
    response = await client.post(
        f"/api/v1/exhibitor-bookings/{booking_id}/approve",
        json={"stand_id": stand_id},
        headers=organiser.headers,
    )
    assert response.status_code == 200, response.text


async def get_svg(client, query: str = "") -> ET.Element:
    """The plan in English (the words checked below are the msgids)."""
    response = await client.get(f"/conferences/{SLUG}/floorplan.svg?lang=en&{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<?xml")
    # Raises on anything that is not well-formed. (Our own output: no defusedxml needed.)
    return ET.fromstring(response.content)  # noqa: S314


def stand_groups(svg: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-code"): g for g in svg.iter(f"{SVG}g") if g.get("data-status")}


def text_of(element: ET.Element) -> str:
    return " ".join(
        "".join(t.itertext()) for t in element.iter(f"{SVG}text") if "".join(t.itertext())
    )


def view_box(svg: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in svg.get("viewBox").split())
    return x, y, x + w, y + h


def inline_svg(html: str) -> ET.Element:
    match = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert match, "no inline floor plan"
    return ET.fromstring(match.group(0))  # noqa: S314


async def market(client, organiser, pool, settings) -> dict:
    """Stands A1 (booked), A2 (blocked), A3 (free), F1 (free, far away in the foyer)."""
    await make_conference(client, organiser)
    stands = {
        "A1": await make_stand(client, organiser, code="A1", x=2, y=3),
        "A2": await make_stand(client, organiser, code="A2", x=5, y=3, blocked=True),
        "A3": await make_stand(client, organiser, code="A3", x=8, y=3),
        "F1": await make_stand(client, organiser, code="F1", area="Foyer", x=40, y=25),
    }
    booking_id, _manage = await request_and_confirm(client, pool, settings)
    await approve(client, organiser, booking_id, stands["A1"]["id"])
    return {"stands": stands, "booking_id": booking_id}


async def test_floorplan_shows_every_stand_and_its_state(client, organiser, pool, settings):
    setup = await market(client, organiser, pool, settings)
    svg = await get_svg(client)

    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text.endswith("Fachtag Ehrenamt 2027")
    desc = svg.find(f"{SVG}desc").text
    assert "A1" in desc and "Caritasverband Hannover e. V." in desc
    assert svg.get("aria-labelledby") == "fp-title fp-desc"

    groups = stand_groups(svg)
    assert set(groups) == {"A1", "A2", "A3", "F1"}
    for code, group in groups.items():
        codes = [t.text for t in group.iter(f"{SVG}text") if t.get("class") == "fp-code"]
        assert codes == [code]

    booked = groups["A1"]
    assert booked.get("data-status") == "booked" and "fp-booked" in booked.get("class")
    assert booked.get("data-exhibitor-id") == str(setup["booking_id"])
    assert "Caritasverband" in text_of(booked)
    link = booked.find(f"{SVG}a")
    assert link.get("href") == f"/conferences/{SLUG}/exhibitors#exhibitor-{setup['booking_id']}"
    assert link.find(f"{SVG}title").text == "Stand A1: Caritasverband Hannover e. V."

    # Not colour alone: blocked is hatched (a <pattern>), free has a dashed border.
    hatch = next(p for p in svg.iter(f"{SVG}pattern") if p.get("id") == "fp-hatch")
    assert hatch.find(f"{SVG}line") is not None
    assert groups["A2"].get("data-status") == "blocked"
    assert groups["A2"].find(f"{SVG}rect").get("fill") == "url(#fp-hatch)"
    assert groups["A3"].get("data-status") == "free"
    assert groups["A3"].find(f"{SVG}rect").get("stroke-dasharray")
    assert groups["A3"].find(f"{SVG}a") is None
    assert groups["F1"].get("data-status") == "free"

    # A legend names the three states, with swatches drawn like the stands.
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "fp-legend")
    assert {r.get("class") for r in legend.iter(f"{SVG}rect")} == {
        "fp-swatch fp-free",
        "fp-swatch fp-booked",
        "fp-swatch fp-blocked",
    }
    assert "Blocked" in text_of(legend) and "Free" in text_of(legend)

    # The viewBox covers every stand (in metres × 40), with room to spare.
    left, top, right, bottom = view_box(svg)
    for group in groups.values():
        rect = group.find(f".//{SVG}rect")
        x, y = float(rect.get("x")), float(rect.get("y"))
        w, h = float(rect.get("width")), float(rect.get("height"))
        assert left < x and top < y and x + w < right and y + h < bottom
    f1 = groups["F1"].find(f".//{SVG}rect")
    assert (float(f1.get("x")), float(f1.get("width"))) == (40 * 40, 3 * 40)

    # Dark text on light ground, so it prints.
    assert all(t.get("fill") == "#1a1d21" for t in svg.iter(f"{SVG}text"))


async def test_floorplan_highlights_a_stand(client, organiser, pool, settings):
    await market(client, organiser, pool, settings)
    svg = await get_svg(client, "highlight=A3")
    rings = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "fp-highlight"]
    assert [r.get("data-code") for r in rings] == ["A3"]
    assert "A3" in svg.find(f"{SVG}desc").text
    for odd in ("highlight=Z9", "highlight=%3Cscript%3E", "highlight="):
        svg = await get_svg(client, odd)
        assert not [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "fp-highlight"]


async def test_malicious_names_stay_text(client, organiser, pool, settings):
    await make_conference(client, organiser)
    stand = await make_stand(client, organiser, code="B7", width_m=2)
    booking_id, _manage = await request_and_confirm(
        client,
        pool,
        settings,
        organisation=EVIL,
        description="<b>fett</b> & <script>alert(3)</script>",
        topics=["Wohnen", "Arbeit & Bildung"],
        wished_width_m=None,
    )
    await approve(client, organiser, booking_id, stand["id"])

    response = await client.get(f"/conferences/{SLUG}/floorplan.svg?lang=en")
    assert "<script" not in response.text and "<img" not in response.text
    svg = ET.fromstring(response.content)  # noqa: S314
    tags = {element.tag for element in svg.iter()}
    assert f"{SVG}script" not in tags and f"{SVG}img" not in tags and "script" not in tags
    group = stand_groups(svg)["B7"]
    assert group.find(f"{SVG}a").find(f"{SVG}title").text == f"Stand B7: {EVIL}"
    assert "<script>" in text_of(group)  # as text: the start of the name, shortened
    assert EVIL in svg.find(f"{SVG}desc").text

    page = await client.get(f"/conferences/{SLUG}/exhibitors")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "<b>fett" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;fett&lt;/b&gt; &amp; " in page.text
    # A topic of its own (not one of the suggested ones) is shown as typed, marked German.
    assert '?topic=Arbeit%20%26%20Bildung#exhibitors" lang="de">Arbeit &amp; Bildung</a>' in (
        page.text
    )
    inline = inline_svg(page.text)
    assert stand_groups(inline)["B7"].get("data-status") == "booked"


def test_control_characters_and_long_names_render_as_valid_xml():
    stands = [
        PlanStand("C1", 0, 0, 2, 2, exhibitor="Verein\x07 für\x1b Alle\ufffe", exhibitor_id=1),
        PlanStand(
            "C2",
            2,
            0,
            2,
            2,
            exhibitor="Migrationsberatung des Diakonischen Werks Hannover-Land und Umgebung",
            exhibitor_id=2,
        ),
        PlanStand("C3", 4, 0, 2, 2, area="Halle\x00 3", blocked=True),
    ]
    svg = ET.fromstring(render(stands, slug=SLUG, title="Tag\x01 & Nacht"))  # noqa: S314
    groups = stand_groups(svg)
    assert "Verein für Alle" in groups["C1"].find(f"{SVG}a/{SVG}title").text
    long_name = groups["C2"]
    names = [t for t in long_name.iter(f"{SVG}text") if t.get("class") == "fp-name"]
    lines = [span.text for span in names[0]]
    assert 1 <= len(lines) <= 3 and lines[-1].endswith("…")
    assert long_name.find(f"{SVG}a/{SVG}title").text.endswith("Hannover-Land und Umgebung")


def test_wrap_and_an_empty_plan():
    assert wrap("Caritasverband Hannover e. V.", 15, 3) == ["Caritasverband", "Hannover e. V."]
    assert wrap("Donaudampfschifffahrt", 10, 2) == ["Donaudamp-", "fschifffa…"]
    assert wrap("eins zwei drei vier", 9, 1) == ["eins…"]
    empty = ET.fromstring(render([], slug=SLUG, title="Leer"))  # noqa: S314
    assert empty.get("role") == "img" and not stand_groups(empty)
    inline = render([], slug=SLUG, title="Leer", standalone=False)
    assert inline.startswith("<svg") and ET.fromstring(inline) is not None  # noqa: S314


async def test_unknown_conference_is_404(client, organiser):
    assert (await client.get("/conferences/gibt-es-nicht/floorplan.svg")).status_code == 404
    assert (await client.get("/conferences/gibt-es-nicht/exhibitors")).status_code == 404
    await make_conference(client, organiser)
    hidden = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"published": False}, headers=organiser.headers
    )
    assert hidden.status_code == 200, hidden.text
    assert (await client.get(f"/conferences/{SLUG}/floorplan.svg")).status_code == 404
    assert (await client.get(f"/conferences/{SLUG}/exhibitors")).status_code == 404


async def test_directory_lists_approved_exhibitors_only(client, organiser, pool, settings):
    setup = await market(client, organiser, pool, settings)
    housing, _ = await request_and_confirm(
        client,
        pool,
        settings,
        organisation="Wohnprojekt Linden",
        kind="initiative",
        email="wohnen@linden.example",
        topics=["Wohnen"],
        description="Wohnraum für alle.",
        description_en="Housing for everyone.",
        website="https://wohnen.example/",
    )
    await approve(client, organiser, housing, setup["stands"]["A3"]["id"])
    waiting, _ = await request_and_confirm(
        client, pool, settings, organisation="Noch Offen e. V.", email="offen@example.org"
    )
    turned_down, _ = await request_and_confirm(
        client, pool, settings, organisation="Abgelehnt gGmbH", email="nein@example.org"
    )
    await client.post(
        f"/api/v1/exhibitor-bookings/{turned_down}/reject",
        json={"reason": "Kein Platz"},
        headers=organiser.headers,
    )

    page = await client.get(f"/conferences/{SLUG}/exhibitors?lang=de")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    caritas = setup["booking_id"]
    assert f'id="exhibitor-{caritas}"' in html and f'id="exhibitor-{housing}"' in html
    assert "Caritasverband Hannover e. V." in html and "Wohnprojekt Linden" in html
    assert "Noch Offen" not in html and "Abgelehnt" not in html
    assert f'id="exhibitor-{waiting}"' not in html and f'id="exhibitor-{turned_down}"' not in html
    assert "Wohnraum für alle." in html and "Housing for everyone." not in html
    assert 'href="https://wohnen.example/" rel="noopener nofollow" target="_blank"' in html
    assert 'href="https://caritas.example" rel="noopener nofollow" target="_blank"' in html

    # The floor plan is inline; its booked stands link to these entries.
    plan = inline_svg(html)
    groups = stand_groups(plan)
    assert set(groups) == {"A1", "A2", "A3", "F1"}
    hrefs = {g.find(f"{SVG}a").get("href") for g in groups.values() if g.find(f"{SVG}a")}
    assert hrefs == {
        f"/conferences/{SLUG}/exhibitors#exhibitor-{caritas}",
        f"/conferences/{SLUG}/exhibitors#exhibitor-{housing}",
    }
    assert f'href="/conferences/{SLUG}/floorplan.svg"' in html

    # In English: the kind in words and the English description where there is one.
    english = (await client.get(f"/conferences/{SLUG}/exhibitors?lang=en")).text
    assert "Welfare association" in english and "Initiative" in english
    assert "Housing for everyone." in english and "Wohnraum für alle." not in english
    assert 'lang="en">Housing for everyone.' in english
    assert 'lang="de">Beratung für Geflüchtete' in english  # no English text: German, marked
    assert "Stand A1" in english and "Stand A3" in english and "Halle 2" in english

    # Filter by topic: links for the topics present, the list narrowed down.
    for topic in ("Beratung", "Ehrenamt", "Wohnen"):
        assert f"?topic={topic}#exhibitors" in english
    housing_only = (await client.get(f"/conferences/{SLUG}/exhibitors?topic=Wohnen")).text
    assert f'id="exhibitor-{housing}"' in housing_only
    assert f'id="exhibitor-{caritas}"' not in housing_only
    assert '?topic=Wohnen#exhibitors" aria-current="page">' in housing_only
    # The suggested topics are stored as German tags and named in the page language.
    assert '?topic=Wohnen#exhibitors">Housing</a>' in english

    nothing = await client.get(f"/conferences/{SLUG}/exhibitors?topic=%3Cb%3ESport")
    assert nothing.status_code == 200
    assert 'id="exhibitor-' not in nothing.text and "<b>Sport" not in nothing.text


async def test_directory_without_exhibitors(client, organiser):
    await make_conference(client, organiser)
    page = await client.get(f"/conferences/{SLUG}/exhibitors?lang=en")
    assert page.status_code == 200
    assert "No exhibitors have been published for this conference yet." in page.text
    assert inline_svg(page.text).get("role") == "img"
