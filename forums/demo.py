"""Demo forums for the demo conference: two parallel slots of three, on the themes of the
4th Integrationskonferenz (language acquisition, volunteering and its limits, networking of
volunteers and full-time staff), and a few sign-ups made through `logic.sign_up`."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import asyncpg

from forums import logic
from service.conferences import queries as conference_queries

SLOTS = {1: (time(13, 30), time(14, 30)), 2: (time(14, 30), time(15, 30))}

FORUMS: list[dict] = [
    {
        "slot": 1,
        "title": "Spracherwerb begleiten: Sprachcafés, Lernpatenschaften und Alltagsdeutsch",
        "title_en": "Supporting language learning: language cafés, learning buddies, "
        "everyday German",
        "description": (
            "Wie Ehrenamtliche den Integrationskurs ergänzen, ohne ihn zu ersetzen: Erfahrungen "
            "aus Sprachcafés und Lernpatenschaften, geeignetes Material und die Frage, wann "
            "Lehrbücher über das Förderprogramm finanziert werden können."
        ),
        "description_en": (
            "How volunteers complement the integration course without replacing it: language "
            "cafés, learning buddies, suitable material and funding for textbooks."
        ),
        "room": "Raum 11",
        "capacity": 60,
        "accessibility": "Stufenlos erreichbar, Induktionsschleife",
        "moderators": "Dr. Miriam Albers (Volkshochschule Calenberger Land), Hamid Rahimi",
    },
    {
        "slot": 1,
        "title": "Ehrenamt und seine Grenzen: Überlastung erkennen, Entlastung finden",
        "title_en": "Volunteering and its limits: recognising overload, finding relief",
        "description": (
            "Was Ehrenamtliche leisten können und was nicht: Rollenklarheit gegenüber "
            "Behörden, entlastende Gespräche, Supervision und der Moment, in dem Hauptamtliche "
            "übernehmen müssen."
        ),
        "description_en": (
            "What volunteers can and cannot do: clear roles, relieving conversations, "
            "supervision, and when full-time staff must take over."
        ),
        "room": "Raum 12",
        "capacity": 40,
        "interpretation": "DGS",
        "accessibility": "Stufenlos erreichbar, Gebärdensprachdolmetschung (DGS)",
        "moderators": "Elke Sommerfeld (Diakonie Südheide), Thomas Krüger (Caritas Heidmark)",
    },
    {
        "slot": 1,
        "title": "Haupt- und Ehrenamt vernetzen: Koordinierungsstellen vor Ort",
        "title_en": "Connecting volunteers and full-time staff: local coordination offices",
        "description": (
            "Wer ist vor Ort für wen ansprechbar? Koordinierungsstellen für Migration und "
            "Teilhabe stellen vor, wie sie Initiativen, Verwaltung und Beratungsdienste an "
            "einen Tisch bringen."
        ),
        "description_en": (
            "Who to turn to locally: coordination offices for migration and participation "
            "on bringing initiatives, administration and advice services together."
        ),
        "room": "Raum 13",
        "capacity": 35,
        "accessibility": "Stufenlos erreichbar",
        "moderators": "Mehmet Yıldız (Stadt Leineburg), Karin Lüders (Freiwilligenagentur)",
    },
    {
        "slot": 2,
        "title": "Integrationslotsinnen und -lotsen: Qualifizierung und Praxis",
        "title_en": "Integration guides: training and practice",
        "description": (
            "Von der Basisqualifizierung zu den vertiefenden Modulen: Lotsinnen und Lotsen "
            "berichten aus ihrem Alltag, die Freiwilligenakademie stellt Fortbildungen vor."
        ),
        "description_en": (
            "From the basic training to the specialising modules: integration guides report "
            "on their work; the volunteers' academy presents its courses."
        ),
        "room": "Raum 14",
        "capacity": 30,
        "accessibility": "Stufenlos erreichbar",
        "moderators": "Samir Al-Khatib (Integrationslotsen Region Nord)",
    },
    {
        "slot": 2,
        "title": "Förderung beantragen: Sachkosten für niedrigschwellige Angebote",
        "title_en": "Applying for funding: material costs of low-threshold offers",
        "description": (
            "Das Programm für bürgerschaftliches Engagement in der Flüchtlingshilfe Schritt "
            "für Schritt: Wer beantragt, was gefördert wird und wo die Ansprechpartner der "
            "Kommunen und Wohlfahrtsverbände zu finden sind."
        ),
        "description_en": (
            "The programme for civic engagement in refugee support step by step: who applies, "
            "what is funded, and where to find the contact people."
        ),
        "room": "Raum 15",
        "capacity": 25,
        "moderators": "Claudia Wendt (Landkreis Heidmark)",
    },
    {
        "slot": 2,
        "title": "Migrationsberatung und Ehrenamt: Wer hilft bei welcher Frage?",
        "title_en": "Migration advice and volunteering: who helps with which question?",
        "description": (
            "Aufenthalt, Arbeit, Wohnen, Familie: Die Migrationsberatung zeigt, welche Fragen "
            "Ehrenamtliche weitergeben sollten und wie eine Übergabe gut gelingt."
        ),
        "description_en": (
            "Residence, work, housing, family: migration advisers show which questions "
            "volunteers should pass on, and how a good hand-over works."
        ),
        "room": "Raum 16",
        "capacity": 45,
        "accessibility": "Stufenlos erreichbar",
        "moderators": "Leyla Aksoy (Beratungsstelle Arbeit und Migration)",
    },
]

# Which of the given attendees sign up where: (attendee index, forum index)
SIGNUPS = [
    (0, 0), (0, 3), (1, 1), (1, 4), (2, 0), (2, 5), (4, 0), (7, 2), (7, 5),
    (8, 1), (9, 2), (9, 3), (10, 2), (12, 1), (15, 0), (16, 2), (18, 0), (18, 3),
    (20, 1), (22, 5), (23, 4), (27, 1), (28, 0), (29, 4), (32, 3), (33, 3), (36, 5),
]  # fmt: skip


async def load_demo(db: asyncpg.Connection, slug: str, attendee_ids: list[int]) -> list[int]:
    """Creates the forums on the conference's first day and signs up some of `attendee_ids`
    (confirmed registrations). Returns the forum ids."""
    conference = await conference_queries.by_slug(db, slug)
    zone = ZoneInfo(conference["timezone"])
    day = conference["starts_at"].astimezone(zone).date()
    forum_ids = []
    for forum in FORUMS:
        starts, ends = SLOTS[forum["slot"]]
        values = {k: v for k, v in forum.items() if k != "slot"}
        values["starts_at"] = datetime.combine(day, starts, zone)
        values["ends_at"] = datetime.combine(day, ends, zone)
        forum_ids.append(await logic.create_forum(db, slug, values, staff=None))
    for attendee, forum in SIGNUPS:
        if attendee < len(attendee_ids):
            await logic.sign_up(db, attendee_ids[attendee], forum_ids[forum])
    return forum_ids
