"""The demo conference, modelled on the 4th Integrationskonferenz of the Lower Saxony alliance
"Niedersachsen packt an!" (6 March 2017, Convention Center Hannover), moved to next spring."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from service import staff_queries
from service.conferences import logic
from service.conferences import queries as conference_queries
from service.staff import create_staff

DEMO_SLUG = "integrationskonferenz-2027"
DEMO_ADMIN = "admin@tagung.example"
BERLIN = ZoneInfo("Europe/Berlin")


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 8, hour, minute, tzinfo=BERLIN)


DEMO_CONFERENCE = {
    "slug": DEMO_SLUG,
    "title": "5. Integrationskonferenz: Werkstatt Bürgerschaftliches Engagement",
    "description": (
        "Die Integrationskonferenz des Bündnisses „Niedersachsen packt an!“ bringt "
        "Ehrenamtliche, Hauptamtliche und Verbände zusammen: Eröffnung im Plenum, "
        "thematische Foren am Nachmittag und ein Markt der Möglichkeiten, auf dem Vereine "
        "und Agenturen ihre Arbeit vorstellen."
    ),
    "venue": "Convention Center Hannover",
    "address": "Messegelände, 30521 Hannover",
    "starts_at": _at(9, 30),
    "ends_at": _at(17, 0),
    "capacity": 700,
    "languages": ["de", "en"],
    "organiser_name": "Bündnis „Niedersachsen packt an!“",
    "organiser_email": "integrationskonferenz@tagung.example",
}

DEMO_PROGRAMME = [
    ("Eröffnung durch den Ministerpräsidenten", "plenary", _at(9, 30), _at(10, 30), "Saal 1"),
    ("Markt der Möglichkeiten", "market", _at(10, 30), _at(12, 30), "Foyer und Halle 2"),
    ("Mittagspause", "break", _at(12, 30), _at(13, 30), "Foyer"),
    (
        "Foren: Spracherwerb, Ehrenamt und seine Grenzen, Vernetzung",
        "forums",
        _at(13, 30),
        _at(15, 30),
        "Räume 11–16",
    ),
    ("Fazit der Sozialministerin und Abschluss", "plenary", _at(16, 0), _at(17, 0), "Saal 1"),
]


async def load_demo(db: asyncpg.Connection) -> tuple[bool, str | None]:
    """Loads the demo unless its conference exists. Returns (loaded, new admin password)."""
    async with db.transaction():
        if await conference_queries.exists(db, DEMO_SLUG):
            return False, None
        await logic.create_conference(
            db, {**DEMO_CONFERENCE, "registration_opens_at": datetime.now(UTC)}, staff=None
        )
        for title, kind, starts_at, ends_at, room in DEMO_PROGRAMME:
            await logic.add_item(
                db,
                DEMO_SLUG,
                {
                    "title": title,
                    "kind": kind,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "room": room,
                },
                staff=None,
            )
        if await staff_queries.exists(db, DEMO_ADMIN):
            return True, None
        password = secrets.token_urlsafe(12)
        await create_staff(db, DEMO_ADMIN, "admin", password)
    return True, password
