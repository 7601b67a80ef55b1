"""The exhibitors domain's choices and their names in the reader's language: kinds of
organisation, stand features, the suggested topics, booking statuses and stand states.

The one place for them: the request form, the exhibitor page, the organisers' pages, the
directory, the floor plan, the mails and the JSON API's schemas (`schemas.Kind` …) all take
the values and their names from here, so a stand's equipment reads the same in the mail as on
the page.
"""

from __future__ import annotations

from typing import Literal, get_args

from service.i18n import gettext as _

Kind = Literal[
    "association", "welfare_association", "agency", "municipality", "initiative", "other"
]
Feature = Literal["power", "wall", "corner", "table"]
BookingStatus = Literal[
    "pending_confirmation", "requested", "approved", "waitlisted", "rejected", "cancelled"
]
StandState = Literal["free", "booked", "blocked"]

KIND_VALUES: tuple[str, ...] = get_args(Kind)
FEATURE_VALUES: tuple[str, ...] = get_args(Feature)
STATUS_VALUES: tuple[str, ...] = get_args(BookingStatus)
STAND_STATES: tuple[str, ...] = get_args(StandState)
# Stored as these German tags (the directory filters by them); named in the page language.
TOPIC_VALUES = (
    "Sprache",
    "Arbeit",
    "Wohnen",
    "Ehrenamt",
    "Beratung",
    "Bildung",
    "Gesundheit",
    "Kinder und Familie",
)


def kinds() -> list[tuple[str, str]]:
    return [
        ("association", _("Association (Verein)")),
        ("welfare_association", _("Welfare association")),
        ("agency", _("Agency or public authority")),
        ("municipality", _("Municipality")),
        ("initiative", _("Initiative")),
        ("other", _("Other")),
    ]


def kind_name(value: str) -> str:
    return dict(kinds()).get(value, value)


def features() -> list[tuple[str, str]]:
    return [
        ("power", _("Power socket")),
        ("wall", _("Wall (for posters)")),
        ("corner", _("Corner stand (open on two sides)")),
        ("table", _("Table and chairs")),
    ]


def feature_name(value: str) -> str:
    return dict(features()).get(value, value)


def feature_names(values: list[str]) -> str:
    """A stand's or a request's equipment in one line ("none" without any)."""
    return ", ".join(feature_name(v) for v in values) or _("none")


def mail_feature_name(value: str) -> str:
    """As `feature_name`, but the English mails have always said "Power supply" for the
    socket (their tests read it so; the German is "Stromanschluss" in both)."""
    return _("Power supply") if value == "power" else feature_name(value)


def topics() -> list[tuple[str, str]]:
    labels = (
        _("Language"),
        _("Work"),
        _("Housing"),
        _("Volunteering"),
        _("Counselling"),
        _("Education"),
        _("Health"),
        _("Children and families"),
    )
    return list(zip(TOPIC_VALUES, labels, strict=True))


def status_name(value: str) -> str:
    """A booking's state as the organisation reads it (its exhibitor page, its mails)."""
    return {
        "pending_confirmation": _("waiting for confirmation of the e-mail address"),
        "requested": _("requested – the organisers are reviewing it"),
        "approved": _("approved"),
        "waitlisted": _("on the waiting list"),
        "rejected": _("rejected"),
        "cancelled": _("withdrawn"),
    }.get(value, value)


def staff_status_name(value: str) -> str:
    """A booking's state as organisers speak of it: the same, but shorter where the
    organisation's words describe the organisers' own work."""
    return {
        "pending_confirmation": _("e-mail address not yet confirmed"),
        "requested": _("requested"),
    }.get(value) or status_name(value)


def stand_state_name(value: str) -> str:
    """A stand in the catalogue and on the floor plan."""
    return {"free": _("free"), "booked": _("booked"), "blocked": _("blocked")}.get(value, value)
