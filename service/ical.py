"""Calendar files (.ics) for invites, cancellations and subscription feeds, built with icalendar.

Everything goes through icalendar's typed API, so text is escaped (\\, ; , newline), parameters
are quoted or RFC 6868-encoded, lines are CRLF and folded at 75 octets, and a value can never
start a property or component of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import PARTSTAT, ROLE, STATUS, Calendar, Event, vCalAddress, vText

PRODID = "-//tagung//tagung//DE"
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One calendar entry. `uid` must stay the same for the life of the entry and `sequence`
    grow on every change, or calendar programs show a second entry instead of updating it."""

    uid: str
    sequence: int
    summary: str
    starts_at: datetime
    ends_at: datetime
    location: str
    description: str = ""
    url: str | None = None
    organizer_email: str | None = None
    organizer_name: str | None = None
    attendee_email: str | None = None
    attendee_name: str | None = None
    cancelled: bool = False
    timezone: str = "Europe/Berlin"

    def __post_init__(self) -> None:
        # A naive datetime would be "floating" time: 09:30 wherever the reader is.
        if self.starts_at.utcoffset() is None or self.ends_at.utcoffset() is None:
            raise ValueError("starts_at and ends_at need a time zone")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        ZoneInfo(self.timezone)  # unknown zone: ZoneInfoNotFoundError now, not when sending


def _address(email: str, name: str | None, **params: object) -> vCalAddress:
    # vCalAddress adds mailto: and rejects CR/LF; the name is quoted or RFC 6868-encoded.
    return vCalAddress.new(email, cn=name, **params)


def _event(event: CalendarEvent, method: Method) -> Event:
    zone = ZoneInfo(event.timezone)
    cancelled = event.cancelled or method == "CANCEL"
    attendees = []
    if event.attendee_email:
        # The attendee signed up on the site, so is ACCEPTED already; RSVP=FALSE because
        # tagung does not process iTIP replies (sign-up and leaving happen on the site).
        attendees.append(
            _address(
                event.attendee_email,
                event.attendee_name,
                role=ROLE.REQ_PARTICIPANT,
                partstat=PARTSTAT.ACCEPTED,
                rsvp=False,
            )
        )
    return Event.new(
        uid=event.uid,
        sequence=event.sequence,
        summary=event.summary,
        description=event.description or None,
        location=event.location,
        url=event.url,
        # Local wall-clock time with TZID: shown at the venue's time in every program, and
        # correct across DST changes. DTSTAMP is set to UTC now by Event.new.
        start=event.starts_at.astimezone(zone),
        end=event.ends_at.astimezone(zone),
        organizer=(
            _address(event.organizer_email, event.organizer_name) if event.organizer_email else None
        ),
        attendees=attendees,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
    )


def build_calendar(
    events: Sequence[CalendarEvent], *, method: Method, name: str | None = None
) -> bytes:
    """The .ics bytes (UTF-8) for `events`.

    REQUEST (invite or update) and CANCEL are iTIP messages (RFC 5546) for e-mail: one entry
    each, with an organizer. PUBLISH is for downloads and subscription feeds, any number of
    entries (none too), and `name` becomes the feed's display name (NAME and X-WR-CALNAME).
    """
    if method in ("REQUEST", "CANCEL"):
        # An iTIP message is about one calendar entry (one UID): mail programs offer one entry
        # per invite. Without ORGANIZER it is not a scheduling message at all.
        if len(events) != 1:
            raise ValueError(f"a {method} message carries exactly one event")
        if not events[0].organizer_email:
            raise ValueError(f"a {method} message needs an organizer")
    calendar = Calendar.new(
        prodid=PRODID, method=method, subcomponents=[_event(event, method) for event in events]
    )
    if name is not None:
        # Not Calendar.new(name=...): icalendar 7.3 types NAME and X-WR-CALNAME as unknown and
        # writes them unescaped (a comma splits the value, a newline trips an assert). As TEXT
        # (RFC 7986; RFC 5545 3.8.8.2 for X- properties) they are escaped like SUMMARY.
        calendar.add("NAME", vText(name))
        calendar.add("X-WR-CALNAME", vText(name))
    if events:
        # VTIMEZONE is not added by itself. Its transitions cover the years of the events
        # (the default, 1970 to 2038, lists every DST change: ~2 KB more in each e-mail).
        calendar.add_missing_timezones(
            first_date=date(min(e.starts_at for e in events).year - 1, 1, 1),
            last_date=date(max(e.ends_at for e in events).year + 2, 1, 1),
        )
    return calendar.to_ical()
