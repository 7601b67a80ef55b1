"""Demo attendees for the demo conference: confirmed registrations of varied categories, a
few of them already through the entrance.

The registrations are made the way a confirmation makes them (a seat taken under the
conference row's lock, then marked confirmed, consents recorded with their text versions),
but without the double opt-in mails: the people are fictional and their addresses are at
example.org. The check-ins go through `checkin.scan` like a door phone's, so the entrance
dashboard shows real counts, gates and an arrivals curve.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from registration import logic, queries
from registration.entrance import checkin
from service import tokens
from service.auth import StaffUser
from service.conferences import queries as conference_queries

# (name, organisation, category, language, photos consent, needs)
ATTENDEES: list[tuple[str, str, str, str, bool, dict]] = [
    ("Aylin Demir", "Flüchtlingshilfe Linden e. V.", "volunteer", "de", True, {}),
    ("Jürgen Behrens", "Willkommensinitiative Gehrden", "volunteer", "de", True, {}),
    ("Sabine Wöhler", "Sprachpatenschaften Ricklingen", "volunteer", "de", False, {}),
    ("Mehmet Yıldız", "Stadt Leineburg, Koordinierungsstelle", "full_time_staff", "de", True, {}),
    ("Fatima Haidari", "Frauencafé Vahrenwald", "volunteer", "de", True, {}),
    ("Dr. Miriam Albers", "Volkshochschule Calenberger Land", "speaker", "de", True, {}),
    ("Thomas Krüger", "Caritasverband Heidmark e. V.", "full_time_staff", "de", False, {}),
    ("Olena Kovalenko", "Ukrainischer Verein Hannover e. V.", "association", "de", True, {}),
    ("Heike Brandes", "Ökumenischer Flüchtlingskreis Laatzen", "volunteer", "de", True, {}),
    ("Samir Al-Khatib", "Integrationslotsen Region Nord", "volunteer", "de", True, {}),
    ("Karin Lüders", "Freiwilligenagentur Leinebrücke", "full_time_staff", "de", True, {}),
    ("Peter Hasselmann", "", "volunteer", "de", False, {}),
    (
        "Ingrid Meyer-Lohse",
        "Seniorenbüro Ronnenberg",
        "volunteer",
        "de",
        False,
        {"accessibility": ["wheelchair", "step_free"], "dietary": [], "notes": ""},
    ),
    ("Yusuf Karaca", "Kulturbrücke Deister e. V.", "association", "de", True, {}),
    ("Anna Schröder", "Hannoversche Allgemeine", "press", "de", True, {}),
    ("Lukas Petersen", "Studentische Initiative Lernbrücke", "volunteer", "de", True, {}),
    ("Grace Mensah", "African Women's Network Lower Saxony", "association", "en", True, {}),
    ("Renate Vogt", "Arbeiterwohlfahrt Aller-Leine e. V.", "full_time_staff", "de", True, {}),
    ("Hamid Rahimi", "Sprachcafé Linden-Nord e. V.", "volunteer", "de", True, {}),
    ("Claudia Wendt", "Landkreis Heidmark, Sozialamt", "full_time_staff", "de", False, {}),
    ("Marco Bellini", "", "volunteer", "de", True, {}),
    (
        "Elke Sommerfeld",
        "Diakonie Südheide, Migrationsberatung",
        "speaker",
        "de",
        True,
        {"accessibility": [], "dietary": ["vegetarian"], "notes": ""},
    ),
    ("Tarek Mansour", "Flüchtlingsrat-Gruppe Burgdorf", "volunteer", "de", True, {}),
    ("Birgit Hoffmann", "Tafel Springe e. V.", "volunteer", "de", False, {}),
    ("Daniel Novak", "Radio Leinewelle", "press", "de", True, {}),
    ("Sophie Lange", "Jugendmigrationsdienst Hildesheim-Süd", "full_time_staff", "de", True, {}),
    ("Abdullahi Warsame", "Somalischer Elternverein e. V.", "association", "de", True, {}),
    (
        "Gisela Thiele",
        "Nachbarschaftshilfe Misburg",
        "volunteer",
        "de",
        False,
        {"accessibility": ["sign_language"], "interpretation": "DGS", "dietary": [], "notes": ""},
    ),
    ("Nadia Petrova", "", "volunteer", "en", True, {}),
    ("Friedrich Ahlers", "Kirchengemeinde St. Marien, Helferkreis", "volunteer", "de", True, {}),
    ("Leyla Aksoy", "Beratungsstelle Arbeit und Migration", "full_time_staff", "de", True, {}),
    ("Prof. Jan Oltmanns", "Hochschule Hannover-Nord", "speaker", "de", True, {}),
    ("Monika Scholz", "Willkommensinitiative Gehrden", "volunteer", "de", True, {}),
    ("Ahmad Sharifi", "Integrationslotsen Region Nord", "volunteer", "de", True, {}),
    ("Ute Brinkmann", "Landesverband der Freiwilligenagenturen", "association", "de", True, {}),
    ("Svenja Raabe", "", "volunteer", "de", False, {}),
    ("Kemal Öztürk", "Türkischer Elternbund Hannover e. V.", "association", "de", True, {}),
    ("Marie Dubois", "Maison de l'Europe, Partnerstadt", "volunteer", "en", True, {}),
    (
        "Holger Wiechmann",
        "Stadt Leineburg, Fachbereich Soziales",
        "full_time_staff",
        "de",
        True,
        {},
    ),
    ("Jana Kowalski", "Sprachcafé Linden-Nord e. V.", "volunteer", "de", True, {}),
]

# Who is already inside: (index into ATTENDEES, gate, minutes before now)
CHECKINS = [
    (0, "Haupteingang", 70),
    (3, "Haupteingang", 66),
    (5, "Haupteingang", 62),
    (6, "Eingang Halle 2", 55),
    (9, "Haupteingang", 52),
    (10, "Haupteingang", 48),
    (13, "Eingang Halle 2", 44),
    (14, "Haupteingang", 41),
    (17, "Haupteingang", 38),
    (18, "Eingang Halle 2", 33),
    (21, "Haupteingang", 29),
    (25, "Haupteingang", 24),
    (31, "Eingang Halle 2", 17),
    (34, "Haupteingang", 9),
]
SECOND_SCAN = 3  # index of one ticket shown twice: the dashboard counts a refusal


def _email(name: str) -> str:
    plain = name.removeprefix("Dr. ").removeprefix("Prof. ")
    for umlaut, ascii_ in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i")):
        plain = plain.replace(umlaut, ascii_).replace(umlaut.upper(), ascii_.title())
    first, *_rest, last = plain.lower().replace("'", "").replace("ç", "c").split()
    return f"{first}.{last}@example.org".replace("-", "")


async def load_demo(
    db: asyncpg.Connection, slug: str, key: bytes, door: StaffUser | None = None
) -> list[int]:
    """Confirmed demo attendees; `door` (a staff account) scans a few of them in. Returns the
    registration ids in the order of ATTENDEES."""
    async with db.transaction():
        conference = await conference_queries.by_slug(db, slug)
        await queries.lock_conference(db, conference["id"])
        made: list[tuple[int, bytes]] = []
        for name, organisation, category, language, photos, needs in ATTENDEES:
            salts = {purpose: tokens.new_salt() for purpose in ("confirm", "manage", "ticket")}
            hashes = {p: tokens.digest(logic.token(key, p, s)) for p, s in salts.items()}
            fields = {
                "email": _email(name),
                "name": name,
                "organisation": organisation,
                "category": category,
                "language": language,
                "needs": needs,
            }
            registration_id = await queries.insert(db, conference["id"], fields, salts, hashes)
            consents = {"privacy": True, "special_category": bool(needs), "photos": photos}
            await queries.add_consents(
                db,
                registration_id,
                {k: logic.CONSENT_TEXT_VERSIONS[k] for k, given in consents.items() if given},
            )
            if not await queries.take_seat(db, conference["id"]):
                raise RuntimeError("the demo conference has no room for its demo attendees")
            await queries.mark_confirmed(db, registration_id)
            made.append((registration_id, salts["ticket"]))

    if door is not None:
        now = datetime.now(UTC)
        for index, gate, minutes_ago in CHECKINS:
            await checkin.scan(
                db,
                door,
                conference_slug=slug,
                secret=logic.token(key, "ticket", made[index][1]),
                gate=gate,
                scanned_at=now - timedelta(minutes=minutes_ago),
            )
        await checkin.scan(
            db,
            door,
            conference_slug=slug,
            secret=logic.token(key, "ticket", made[SECOND_SCAN][1]),
            gate="Eingang Halle 2",
            scanned_at=now - timedelta(minutes=5),
        )
    return [registration_id for registration_id, _salt in made]
