"""Calendar files: parsed back with icalendar, and the raw text checked against RFC 5545."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from icalendar import Calendar, Event

from service.ical import PRODID, CalendarEvent, build_calendar

BERLIN = ZoneInfo("Europe/Berlin")

FORUM = CalendarEvent(
    uid="forum-17@tagung.example",
    sequence=3,
    summary="Forum 3: Sprache & Arbeit",
    starts_at=datetime(2026, 6, 4, 7, 30, tzinfo=UTC),  # 09:30 summer time in Berlin
    ends_at=datetime(2026, 6, 4, 9, 0, tzinfo=UTC),
    location="Raum 2.01, Rathaus Köln",
    description="Mit Übersetzung.\nBitte pünktlich.",
    url="https://tagung.example/forums/17?x=1;y=2,3",
    organizer_email="tagung@example.org",
    organizer_name="Integrationsrat Köln",
    attendee_email="anna@example.org",
    attendee_name="Anna Özdemir",
)


def parse(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def only_event(calendar: Calendar) -> Event:
    (event,) = calendar.events
    return event


def text(raw: str) -> str:
    """A TEXT value that icalendar parsed as an unknown type, unescaped (RFC 5545 3.3.11)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], raw)


def unfold(data: bytes) -> list[str]:
    return data.decode().replace("\r\n ", "").split("\r\n")


def test_request_has_every_property() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    data = build_calendar([FORUM], method="REQUEST")
    calendar = parse(data)
    assert calendar["PRODID"] == PRODID
    assert calendar["VERSION"] == "2.0"
    assert calendar["METHOD"] == "REQUEST"
    assert "X-WR-CALNAME" not in calendar

    event = only_event(calendar)
    assert event["UID"] == FORUM.uid
    assert event["SEQUENCE"] == 3
    assert event["SUMMARY"] == FORUM.summary
    assert event["DESCRIPTION"] == FORUM.description
    assert event["LOCATION"] == FORUM.location
    assert event["URL"] == FORUM.url
    assert event["STATUS"] == "CONFIRMED"
    assert event.start == FORUM.starts_at
    assert event.end == FORUM.ends_at
    assert before <= event.stamp <= datetime.now(UTC)
    assert re.search(rb"\r\nDTSTAMP:\d{8}T\d{6}Z\r\n", data)  # UTC

    organizer = event["ORGANIZER"]
    assert organizer == "mailto:tagung@example.org"
    assert organizer.params["CN"] == "Integrationsrat Köln"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:anna@example.org"
    assert dict(attendee.params) == {
        "CN": "Anna Özdemir",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "ACCEPTED",
        "RSVP": "FALSE",
    }


def test_start_keeps_local_wall_time_with_tzid() -> None:
    winter = replace(
        FORUM,
        starts_at=datetime(2026, 1, 15, 8, 30, tzinfo=UTC),
        ends_at=datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
    )
    for forum in (FORUM, winter):
        lines = unfold(build_calendar([forum], method="REQUEST"))
        (start,) = [line for line in lines if line.startswith("DTSTART;")]
        assert re.fullmatch(r"DTSTART;TZID=Europe/Berlin:\d{8}T093000", start)
        event = only_event(parse(build_calendar([forum], method="REQUEST")))
        assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
        assert event.start.astimezone(BERLIN).hour == 9
        assert event.start == forum.starts_at  # the same instant


def test_one_vtimezone_for_several_events_before_the_events() -> None:
    forums = [
        replace(
            FORUM,
            uid=f"forum-{n}@tagung.example",
            starts_at=FORUM.starts_at + timedelta(days=n * 100),
            ends_at=FORUM.ends_at + timedelta(days=n * 100),
        )
        for n in range(4)  # across the autumn DST change, into 2027
    ]
    data = build_calendar(forums, method="PUBLISH")
    calendar = parse(data)
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Berlin"]
    assert data.count(b"BEGIN:VTIMEZONE") == 1
    assert data.index(b"END:VTIMEZONE") < data.index(b"BEGIN:VEVENT")
    assert calendar.get_missing_tzids() == set()
    # The VTIMEZONE itself (not the zone database) maps every start to the right instant.
    vtimezone = calendar.timezones[0].to_tz()
    for forum, event in zip(forums, calendar.events, strict=True):
        local = event.start.replace(tzinfo=None)
        assert local.replace(tzinfo=vtimezone) == forum.starts_at
    assert [e["UID"] for e in calendar.events] == [f.uid for f in forums]


def test_events_in_two_zones_get_two_vtimezones() -> None:
    lisbon = replace(FORUM, uid="x@tagung.example", timezone="Europe/Lisbon")
    calendar = parse(build_calendar([FORUM, lisbon], method="PUBLISH"))
    assert sorted(tz.tz_name for tz in calendar.timezones) == ["Europe/Berlin", "Europe/Lisbon"]
    assert calendar.events[1].start.astimezone(ZoneInfo("Europe/Lisbon")).hour == 8


def test_cancel_has_status_cancelled_and_the_same_uid() -> None:
    cancel = replace(FORUM, sequence=FORUM.sequence + 1)
    calendar = parse(build_calendar([cancel], method="CANCEL"))
    assert calendar["METHOD"] == "CANCEL"
    event = only_event(calendar)
    assert event["UID"] == FORUM.uid
    assert event["SEQUENCE"] == 4
    assert event["STATUS"] == "CANCELLED"


def test_cancelled_event_in_a_feed() -> None:
    calendar = parse(
        build_calendar([replace(FORUM, cancelled=True), FORUM], method="PUBLISH", name="x")
    )
    assert [e["STATUS"] for e in calendar.events] == ["CANCELLED", "CONFIRMED"]


def test_feed_name() -> None:
    data = build_calendar([FORUM], method="PUBLISH", name="Meine Foren; Köln, 2026")
    calendar = parse(data)
    assert calendar["METHOD"] == "PUBLISH"
    # Escaped as TEXT; icalendar reads NAME and X-WR-CALNAME back raw, so unescape here.
    assert "X-WR-CALNAME:Meine Foren\\; Köln\\, 2026" in unfold(data)
    assert text(calendar["X-WR-CALNAME"]) == "Meine Foren; Köln, 2026"
    assert text(calendar["NAME"]) == "Meine Foren; Köln, 2026"


def test_empty_feed() -> None:
    calendar = parse(build_calendar([], method="PUBLISH", name="Meine Foren"))
    assert calendar.events == []
    assert calendar.timezones == []


def test_optional_properties_are_left_out() -> None:
    bare = CalendarEvent(
        uid="bare@tagung.example",
        sequence=0,
        summary="Plenum",
        starts_at=FORUM.starts_at,
        ends_at=FORUM.ends_at,
        location="Saal",
    )
    event = only_event(parse(build_calendar([bare], method="PUBLISH")))
    for name in ("DESCRIPTION", "URL", "ORGANIZER", "ATTENDEE"):
        assert name not in event
    assert event["SEQUENCE"] == 0


HOSTILE = "A;B,C\nD\r\nBEGIN:VEVENT"


def test_hostile_text_is_escaped_not_new_properties() -> None:
    forum = replace(
        FORUM,
        summary=HOSTILE,
        location=HOSTILE + "\r\nLOCATION:elsewhere",
        description="x\r\nEND:VEVENT\r\nEND:VCALENDAR",
        organizer_name='Rat "Köln", Integration; Arbeit:\r\nBEGIN:VEVENT',
        attendee_name="Ö\nATTENDEE:mailto:evil@example.org",
    )
    data = build_calendar([forum], method="REQUEST", name="Feed\r\nBEGIN:VEVENT")
    lines = unfold(data)
    assert lines.count("BEGIN:VEVENT") == 1
    assert lines.count("END:VCALENDAR") == 1
    assert not any(line.startswith(("LOCATION:elsewhere", "ATTENDEE:")) for line in lines)
    assert "SUMMARY:A\\;B\\,C\\nD\\nBEGIN:VEVENT" in lines
    calendar = parse(data)
    event = only_event(calendar)
    assert event["SUMMARY"] == "A;B,C\nD\nBEGIN:VEVENT"  # CRLF comes back as one newline
    assert event["LOCATION"] == "A;B,C\nD\nBEGIN:VEVENT\nLOCATION:elsewhere"
    assert event["DESCRIPTION"] == "x\nEND:VEVENT\nEND:VCALENDAR"
    assert event["ORGANIZER"].params["CN"] == 'Rat "Köln", Integration; Arbeit:\nBEGIN:VEVENT'
    assert event["ATTENDEE"].params["CN"] == "Ö\nATTENDEE:mailto:evil@example.org"
    assert text(calendar["X-WR-CALNAME"]) == "Feed\nBEGIN:VEVENT"


@pytest.mark.parametrize(
    "change",
    [
        {"organizer_email": "a@example.org\r\nBEGIN:VEVENT"},
        {"attendee_email": "a@example.org\nX:y"},
        {"url": "https://x.example/\r\nBEGIN:VEVENT"},
    ],
)
def test_line_breaks_in_addresses_and_urls_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        build_calendar([replace(FORUM, **change)], method="REQUEST")


def test_lines_are_crlf_and_folded_at_75_octets_utf8() -> None:
    long = replace(
        FORUM,
        summary="Übergänge gestalten: Sprachförderung für Größere " * 4,
        description="Ärger, Öl, Übung; " * 30,
    )
    data = build_calendar([long], method="REQUEST")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in data.replace(b"\r\n", b"")  # no bare CR
    physical = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    assert sum(line.startswith(b" ") for line in physical) > 5  # long values were folded
    for line in physical:
        line.decode()  # no UTF-8 sequence is split across a fold
    event = only_event(parse(data))
    assert event["SUMMARY"] == long.summary
    assert event["DESCRIPTION"] == long.description
    assert event["LOCATION"] == "Raum 2.01, Rathaus Köln"
    assert "Anna Özdemir".encode() in data


@pytest.mark.parametrize(
    ("events", "method", "message"),
    [
        ([FORUM, replace(FORUM, uid="other")], "REQUEST", "exactly one event"),
        ([], "CANCEL", "exactly one event"),
        ([replace(FORUM, organizer_email=None)], "REQUEST", "organizer"),
        ([replace(FORUM, organizer_email=None)], "CANCEL", "organizer"),
    ],
)
def test_itip_messages_need_one_event_with_organizer(
    events: list[CalendarEvent], method: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_calendar(events, method=method)  # type: ignore[arg-type]


def test_event_is_validated_when_made() -> None:
    with pytest.raises(ValueError, match="time zone"):
        replace(FORUM, starts_at=datetime(2026, 6, 4, 9, 30))
    with pytest.raises(ValueError, match="after"):
        replace(FORUM, ends_at=FORUM.starts_at)
    with pytest.raises(ValueError, match="sequence"):
        replace(FORUM, sequence=-1)
    with pytest.raises(ZoneInfoNotFoundError):
        replace(FORUM, timezone="Europe/Atlantis")
    with pytest.raises(AttributeError):  # frozen
        FORUM.sequence = 4  # type: ignore[misc]
