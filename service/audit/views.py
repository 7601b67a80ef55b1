"""How audit log entries are read: the filters of a request, and an entry in words (who, what,
about what) for the API, the pages and the CSV.

An entry keeps ids and kinds; the names come from audit_labels while they are there. After the
retention purge (or a person's erasure) an entry still says what happened, naming the account
("account 12"), the device or the registration by number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from service.audit.queries import Filters
from service.i18n import gettext as _
from service.validation import EARLIEST, LATEST

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
MAX_ACTOR = 200
ACTION_FILTER = re.compile(r"^[a-z_]{1,40}\.([a-z_]{1,40})?$")  # exact, or a prefix "checkin."


def action_groups() -> dict[str, str]:
    """The kinds of action, by prefix, as the filter offers them."""
    return {
        "conference.": _("Conference"),
        "programme_item.": _("Programme"),
        "forum.": _("Forums"),
        "stand.": _("Stands"),
        "exhibitor_booking.": _("Exhibitors"),
        "registration.": _("Registrations"),
        "checkin.": _("Entrance"),
        "export.": _("Downloads"),
        "announcement.": _("Announcements"),
        "staff.": _("Staff accounts"),
        "device.": _("Door devices"),
        "settings.": _("Settings"),
    }


def action_names() -> dict[str, str]:
    """Every action written today, in words. One not listed is shown as it is stored."""
    return {
        "conference.created": _("Conference created"),
        "conference.updated": _("Conference changed"),
        "programme_item.created": _("Programme item added"),
        "programme_item.updated": _("Programme item changed"),
        "programme_item.deleted": _("Programme item removed"),
        "forum.created": _("Forum created"),
        "forum.updated": _("Forum changed"),
        "forum.cancelled": _("Forum cancelled"),
        "forum.signup_moved": _("Person moved to another forum"),
        "stand.created": _("Stand created"),
        "stand.updated": _("Stand changed"),
        "exhibitor_booking.approved": _("Stand assigned"),
        "exhibitor_booking.reassigned": _("Other stand assigned"),
        "exhibitor_booking.released": _("Stand released"),
        "exhibitor_booking.waitlisted": _("Stand booking put on the waiting list"),
        "exhibitor_booking.rejected": _("Stand booking declined"),
        "registration.added": _("Person added by staff"),
        "registration.updated": _("Registration changed by staff"),
        "registration.cancelled": _("Registration cancelled by staff"),
        "registration.ticket_reissued": _("New ticket sent"),
        "registration.erased": _("Personal data deleted"),
        "checkin.manual": _("Admitted by hand"),
        "checkin.undone": _("Entry taken back"),
        "export.downloaded": _("Data downloaded"),
        "announcement.sent": _("Announcement sent"),
        "staff.invited": _("Staff member invited"),
        "staff.invitation_resent": _("Invitation sent again"),
        "staff.invitation_accepted": _("Invitation accepted"),
        "staff.updated": _("Staff account changed"),
        "staff.password_changed": _("Password changed"),
        "staff.password_reset": _("Password set anew by e-mail link"),
        "staff.two_factor_enabled": _("Two-factor login turned on"),
        "staff.two_factor_disabled": _("Two-factor login turned off"),
        "staff.recovery_codes_renewed": _("New recovery codes"),
        "staff.login": _("Logged in to an account"),
        "staff.login_failed": _("Failed login to an account"),
        "device.added": _("Door device added"),
        "device.paired": _("Door device paired"),
        "device.removed": _("Door device removed"),
        "settings.updated": _("Settings changed"),
    }


def _subject_kinds() -> dict[str, str]:
    return {
        "conference": _("Conference"),
        "programme_item": _("Programme item"),
        "forum": _("Forum"),
        "stand": _("Stand"),
        "exhibitor_booking": _("Stand booking"),
        "registration": _("Registration"),
        "staff": _("Account"),
        "device": _("Door device"),
        "announcement": _("Announcement"),
    }


def _download_names() -> dict[str, str]:
    return {
        "registrations": _("Registrations"),
        "attendees": _("Attendees with their entrance state"),
        "checkins": _("Scans at the entrance"),
        "needs": _("Needs"),
        "forum_participants": _("Participants of a forum"),
        "badges": _("Name badges"),
        "registration_data": _("One person's data"),
        "audit_log": _("Audit log"),
    }


def actor_text(row: asyncpg.Record) -> str:
    """Who acted: the staff member's e-mail address, a door device, or (after the purge) the
    account's or device's number."""
    label = row["actor_label"]
    if row["actor_device_id"] is not None:
        name = label or row["device_name"]
        if name:
            return _("device “%(name)s”", name=name)
        return _("device %(id)s", id=row["actor_device_id"])
    if label:
        return label
    if row["actor_staff_id"] is not None:
        return _("account %(id)s", id=row["actor_staff_id"])
    return _("system")


def subject_text(row: asyncpg.Record) -> str:
    kind = row["subject_type"]
    if not kind:
        return row["subject_label"]
    name = _subject_kinds().get(kind, kind)
    if row["subject_label"]:
        return _("%(kind)s “%(label)s”", kind=name, label=row["subject_label"])
    if row["subject_id"]:
        return _("%(kind)s no. %(id)s", kind=name, id=row["subject_id"])
    return name


def details_text(details: Mapping[str, Any]) -> str:
    """The entry's further facts in words (they never name a person)."""
    parts = []
    for key, value in details.items():
        if key == "fields":
            parts.append(_("changed: %(fields)s", fields=", ".join(value)))
        elif key == "what":
            what = _download_names().get(value, value)
            fmt = str(details.get("format", "")).upper()
            parts.append(_("%(what)s as %(format)s", what=what, format=fmt))
        elif key == "format":
            continue
        elif key == "stand":
            parts.append(_("stand %(code)s", code=value))
        elif key == "override":
            if value:
                parts.append(_("although the stand does not meet the wishes"))
        elif key == "gate":
            if value:
                parts.append(_("entrance “%(gate)s”", gate=value))
        elif key == "from_forum":
            parts.append(_("from forum no. %(id)s", id=value))
        elif key == "to_forum":
            parts.append(_("to forum no. %(id)s", id=value))
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def local_time(row: asyncpg.Record) -> datetime:
    """When, in the time zone of the entry's conference (else Europe/Berlin)."""
    return row["at"].astimezone(ZoneInfo(row["timezone"]))


class AuditItem(msgspec.Struct):
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


class AuditPage(msgspec.Struct):
    items: list[AuditItem]
    next: int | None  # the last id of this page when there is another: pass it as `after`


class InstallationAuditItem(AuditItem):
    conference: str | None  # the conference's slug; null for entries about none


class InstallationAuditPage(msgspec.Struct):
    items: list[InstallationAuditItem]
    next: int | None


def to_item(row: asyncpg.Record) -> AuditItem:
    return AuditItem(
        at=local_time(row),
        actor=actor_text(row),
        action=row["action"],
        subject=subject_text(row),
        details=dict(row["details"]),
    )


def to_installation_item(row: asyncpg.Record) -> InstallationAuditItem:
    return InstallationAuditItem(
        **msgspec.structs.asdict(to_item(row)), conference=row["conference_slug"]
    )


def csv_header(with_conference: bool) -> tuple[str, ...]:
    head = ("at", "actor", "action", "action_label", "subject", "details")
    return ("at", "conference", *head[1:]) if with_conference else head


def csv_line(row: asyncpg.Record, with_conference: bool) -> tuple[Any, ...]:
    cells = (
        local_time(row).isoformat(" ", "seconds")[:19],
        actor_text(row),
        row["action"],
        action_names().get(row["action"], row["action"]),
        subject_text(row),
        details_text(row["details"]),
    )
    if with_conference:
        return (cells[0], row["conference_slug"] or "", *cells[1:])
    return cells


# ── the filters of a request ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Query:
    """The filters as asked (to show them again in the form and keep them across pages)."""

    action: str = ""
    actor: str = ""
    since: str = ""
    until: str = ""


def _moment(raw: str, zone: ZoneInfo, *, end: bool) -> datetime | None:
    """A date (the whole day: `until` takes it in) or a date and time; None if neither. A time
    without an offset is the conference's local time."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime.combine(day, time(), zone)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def read_filters(
    query: Query, conference_id: int | None, timezone: str = "Europe/Berlin"
) -> tuple[Filters, dict[str, str]]:
    """The filters and a message per field that is not understood (the field is then left
    out). Shared by the API (400 naming the field) and the pages (the form again)."""
    errors: dict[str, str] = {}
    action = query.action.strip()
    if action and not ACTION_FILTER.match(action):
        errors["action"] = _(
            "Give an action such as conference.updated, or a kind of action such as checkin."
        )
    actor = query.actor.strip()
    if len(actor) > MAX_ACTOR:
        errors["actor"] = _("At most %(n)s characters, please.", n=MAX_ACTOR)
    zone = ZoneInfo(timezone)
    bounds: dict[str, datetime | None] = {}
    for name, raw in (("since", query.since.strip()), ("until", query.until.strip())):
        moment = _moment(raw, zone, end=name == "until") if raw else None
        if raw and (moment is None or not EARLIEST <= moment <= LATEST):
            errors[name] = _(
                "Please give a date such as 2027-05-10 (or a date and time) "
                "in the years 2000 to 2100."
            )
            moment = None
        bounds[name] = moment
    if not errors and bounds["since"] and bounds["until"] and bounds["until"] <= bounds["since"]:
        errors["until"] = _("The end of the period must be after its start.")
    filters = Filters(
        conference_id=conference_id,
        action=None if "action" in errors else action or None,
        actor=None if "actor" in errors else actor or None,
        since=bounds["since"],
        until=None if "until" in errors else bounds["until"],
    )
    return filters, errors
