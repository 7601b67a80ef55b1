"""The demo's Markt der Möglichkeiten: a stand catalogue (two rows in Halle 2, corner and
blocked stands in the Foyer) and bookings of fictional organisations, each taken through
the real workflow — request, confirmation, then approval onto a stand, the waiting list, or
left for review — so every rule of `logic` holds.

The workflow writes its e-mails to the outbox; the demo forgets them again at the end (the
organisations are fictional, their addresses reserved `.example` domains), so loading the
demo sends nothing and leaves no failing deliveries behind.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from exhibitors import logic, queries
from service import outbox
from service.conferences import queries as conference_queries

ROWS: list[dict[str, Any]] = [
    {
        "prefix": "A",
        "first_number": 1,
        "count": 12,
        "width_m": 2,
        "depth_m": 2.5,
        "x": 1,
        "y": 1,
        "direction": "right",
        "gap_m": 0,
        "area": "Halle 2",
        "features": ["power", "wall"],
        "price_cents": 0,
        "max_staff": 3,
    },
    {
        "prefix": "B",
        "first_number": 1,
        "count": 12,
        "width_m": 2,
        "depth_m": 2.5,
        "x": 1,
        "y": 7,
        "direction": "right",
        "gap_m": 0,
        "area": "Halle 2",
        "features": ["power", "table"],
        "price_cents": 0,
        "max_staff": 3,
    },
]

FOYER: list[dict[str, Any]] = [
    {"code": "F1", "x": 1, "features": ["power", "corner", "table"]},
    {"code": "F2", "x": 7.5, "blocked": True},  # the organisers' information desk
    {"code": "F3", "x": 14, "blocked": True},  # kept free: escape route to the car park
    {"code": "F4", "x": 21, "features": ["power", "corner", "table"]},
]


def _foyer_stand(stand: dict[str, Any]) -> dict[str, Any]:
    return {
        "area": "Foyer",
        "width_m": 4,
        "depth_m": 3,
        "y": 12.5,
        "features": [],
        "price_cents": 0,
        "max_staff": 4,
        **stand,
    }


# (booking, stand code | "requested" | "waitlisted", passes: [(name, email)])
BOOKINGS: list[tuple[dict[str, Any], str, list[tuple[str, str]]]] = [
    (
        {
            "organisation": "Freiwilligenagentur Leinebrücke",
            "kind": "agency",
            "contact_name": "Karin Lüders",
            "email": "markt@freiwilligenagentur-leinebruecke.example",
            "website": "https://freiwilligenagentur-leinebruecke.example",
            "description": (
                "Wir vermitteln Menschen, die sich engagieren wollen, an Initiativen und "
                "Vereine der Region, beraten Organisationen zur Arbeit mit Freiwilligen und "
                "bieten Fortbildungen und entlastende Gespräche an."
            ),
            "description_en": (
                "We match people who want to volunteer with initiatives in the region, advise "
                "organisations on working with volunteers, and offer training."
            ),
            "topics": ["Ehrenamt", "Fortbildung", "Vernetzung"],
            "staff_count": 2,
            "wished_features": ["power"],
        },
        "A1",
        [],
    ),
    (
        {
            "organisation": "Arbeiterwohlfahrt Kreisverband Aller-Leine e. V.",
            "kind": "welfare_association",
            "contact_name": "Renate Vogt",
            "email": "integration@awo-aller-leine.example",
            "website": "https://awo-aller-leine.example",
            "description": (
                "Integrationslotsinnen und -lotsen, Familienpatenschaften und offene "
                "Treffpunkte in zwölf Gemeinden: Die AWO begleitet Zugewanderte im Alltag "
                "und unterstützt die Ehrenamtlichen dabei."
            ),
            "topics": ["Integrationslotsen", "Familien", "Ehrenamt"],
            "staff_count": 3,
        },
        "A4",
        [],
    ),
    (
        {
            "organisation": "Diakonie Südheide – Migrationsberatung für Erwachsene",
            "kind": "welfare_association",
            "contact_name": "Elke Sommerfeld",
            "email": "mbe@diakonie-suedheide.example",
            "website": "https://diakonie-suedheide.example/mbe",
            "description": (
                "Kostenlose Beratung zu Aufenthalt, Arbeit, Wohnen und Sprachkursen, in "
                "Deutsch, Englisch, Arabisch und Farsi. Ehrenamtliche erfahren bei uns, welche "
                "Fragen sie an die Beratung weitergeben können."
            ),
            "description_en": (
                "Free advice on residence, work, housing and language courses, in German, "
                "English, Arabic and Farsi."
            ),
            "topics": ["Beratung", "Arbeit"],
            "staff_count": 2,
            "wished_features": ["power"],
        },
        "A7",
        [],
    ),
    (
        {
            "organisation": "Sprachcafé Linden-Nord e. V.",
            "kind": "initiative",
            "contact_name": "Hamid Rahimi",
            "email": "hallo@sprachcafe-linden.example",
            "website": "https://sprachcafe-linden.example",
            "description": (
                "Jeden Dienstag und Donnerstag Deutsch üben bei Tee und Gebäck: Ehrenamtliche "
                "und Neuzugewanderte sprechen über Alltag, Arbeit und Behördenbriefe. Wir "
                "suchen Verstärkung für unsere Lernpatenschaften."
            ),
            "topics": ["Sprache", "Begegnung"],
            "staff_count": 2,
            "wished_features": ["table"],
        },
        "B2",
        [("Tobias Reinhardt", "tobias.reinhardt@example.org")],
    ),
    (
        {
            "organisation": "Stadt Leineburg – Koordinierungsstelle Migration und Teilhabe",
            "kind": "municipality",
            "contact_name": "Mehmet Yıldız",
            "email": "teilhabe@leineburg.example",
            "website": "https://leineburg.example/teilhabe",
            "description": (
                "Die Koordinierungsstelle verbindet Verwaltung, Wohlfahrtsverbände und "
                "Initiativen vor Ort und ist Ansprechpartnerin für Anträge aus dem Programm "
                "für bürgerschaftliches Engagement in der Flüchtlingshilfe."
            ),
            "topics": ["Vernetzung", "Förderung"],
            "staff_count": 2,
        },
        "B5",
        [],
    ),
    (
        {
            "organisation": "Netzwerk Integrationslotsen Region Nord e. V.",
            "kind": "association",
            "contact_name": "Samir Al-Khatib",
            "email": "vorstand@lotsen-nord.example",
            "description": (
                "Über 200 ausgebildete Integrationslotsinnen und -lotsen begleiten zu Ämtern, "
                "Ärzten und Schulen. Wir informieren über die Basisqualifizierung und die "
                "vertiefenden Module."
            ),
            "topics": ["Integrationslotsen", "Fortbildung"],
            "staff_count": 3,
        },
        "B9",
        [],
    ),
    (
        {
            "organisation": "Caritasverband für den Landkreis Heidmark e. V.",
            "kind": "welfare_association",
            "contact_name": "Thomas Krüger",
            "email": "ehrenamt@caritas-heidmark.example",
            "phone": "05141 123 456",
            "website": "https://caritas-heidmark.example",
            "description": (
                "Psychosoziale Beratung für Geflüchtete, Supervision und Fortbildung für "
                "Ehrenamtliche, Sachkostenzuschüsse für Willkommensinitiativen: Sprechen Sie "
                "uns an, bevor das Engagement zur Last wird."
            ),
            "description_en": (
                "Psychosocial counselling for refugees, supervision and training for "
                "volunteers, grants for welcome initiatives."
            ),
            "topics": ["Beratung", "Ehrenamt", "Fortbildung"],
            "staff_count": 4,
            "wished_width_m": 4,
            "wished_features": ["corner", "power"],
        },
        "F1",
        [("Petra Schulz", "petra.schulz@example.org")],
    ),
    (
        {
            "organisation": "Ukrainische Gemeinschaft Leinetal e. V.",
            "kind": "association",
            "contact_name": "Olena Kovalenko",
            "email": "info@ukr-leinetal.example",
            "description": (
                "Selbsthilfe von und für Menschen aus der Ukraine: Elterncafé, Übersetzungen "
                "bei Behördengängen und ein Chor, der gerne auftritt."
            ),
            "topics": ["Familien", "Begegnung", "Sprache"],
            "staff_count": 3,
            "wished_features": ["corner"],
        },
        "F4",
        [],
    ),
    (
        {
            "organisation": "Kulturbrücke Deister e. V.",
            "kind": "association",
            "contact_name": "Yusuf Karaca",
            "email": "kontakt@kulturbruecke-deister.example",
            "description": (
                "Interkulturelle Feste, Kochabende und ein Frauenschwimmkurs: Begegnung "
                "zwischen Alteingesessenen und Neuzugewanderten am Deister."
            ),
            "topics": ["Begegnung", "Familien"],
            "staff_count": 2,
        },
        "requested",
        [],
    ),
    (
        {
            "organisation": "Fahrradwerkstatt Willkommen Laatzen",
            "kind": "initiative",
            "contact_name": "Heike Brandes",
            "email": "werkstatt@rad-willkommen.example",
            "description": (
                "Gespendete Räder, gemeinsam repariert: Wir zeigen, wie aus einer offenen "
                "Werkstatt Mobilität und Nachbarschaft wird."
            ),
            "topics": ["Begegnung"],
            "staff_count": 2,
            "wished_width_m": 4,
            "wished_features": ["corner"],
        },
        "waitlisted",
        [],
    ),
]
WAITLIST_REASON = (
    "Alle Eckstände sind vergeben. Sobald einer frei wird, melden wir uns; gern bieten wir "
    "Ihnen auch einen Stand in Halle 2 an."
)


async def load_demo(db: asyncpg.Connection, slug: str, key: bytes) -> list[int]:
    """Stands and bookings (requests must be open at the conference). Returns booking ids."""
    stands = [*logic.stand_row(ROWS[0]), *logic.stand_row(ROWS[1])]
    stands += [_foyer_stand(stand) for stand in FOYER]
    stand_ids = dict(
        zip(
            (s["code"] for s in stands),
            await logic.create_stands(db, slug, stands, staff=None),
            strict=True,
        )
    )
    conference = await conference_queries.by_slug(db, slug)
    booking_ids = []
    pass_ids = []
    for values, outcome, passes in BOOKINGS:
        await logic.request_booking(db, key, slug, {"language": "de", **values})
        pending = await queries.active_by_email(db, conference["id"], values["email"])
        await logic.confirm(db, key, logic.token(key, "confirm", pending["confirm_salt"]))
        booking_ids.append(pending["id"])
        if outcome == "waitlisted":
            await logic.decide(db, pending["id"], "waitlisted", WAITLIST_REASON)
        elif outcome != "requested":
            await logic.approve(db, pending["id"], stand_ids[outcome])
            booking = await queries.booking(db, pending["id"])
            for name, email in passes:
                pass_ids.append(await logic.add_pass(db, key, booking, name, email, "de"))
    await outbox.forget(db, "exhibitor.", booking_ids)
    await outbox.forget(db, "registration.", pass_ids)
    return booking_ids
