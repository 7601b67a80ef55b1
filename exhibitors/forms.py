"""Reading the exhibitors' HTML forms into values, with a message next to each invalid field.

The request form and the exhibitor page check what `schemas.BookingCreate`, `DirectoryUpdate`
and `PassCreate` check for the API, field by field; the organisers' stand forms what
`schemas.StandCreate` and `StandRow` check. The pages show the form again with these messages,
or hand the values to `exhibitors.logic`, like the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from exhibitors.formats import metres
from exhibitors.logic import stand_row
from exhibitors.options import FEATURE_VALUES, KIND_VALUES, TOPIC_VALUES
from service.forms import Form
from service.i18n import gettext as _

MAX_TOPICS = 10
TOPIC_LENGTH = 40
DESCRIPTION_LENGTH = 2000
REASON_LENGTH = 1000
WEBSITE = re.compile(r"^https?://[^\s<>\"]+\.[^\s<>\"]+$")
PHONE = re.compile(r"^[0-9+()/ .-]*$")
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,11}$")
PREFIX = re.compile(r"^[A-Za-z]{0,3}$")

# What the organisers' stand forms show before anything is typed.
STAND_DEFAULTS = {"x": "0", "y": "0", "price": "0", "max_staff": "3"}
ROW_DEFAULTS = {
    "row_prefix": "",
    "row_first_number": "1",
    "row_count": "10",
    "row_x": "0",
    "row_y": "0",
    "row_direction": "right",
    "row_gap_m": "0",
    "row_price": "0",
    "row_max_staff": "3",
}


def whole_number(raw: Any) -> int | None:
    """A non-negative id or count from a form field or the query string, else None."""
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


def redisplay(form: Form, lists: tuple[str, ...]) -> dict[str, Any]:
    """What was typed, with the check-box groups as lists (for showing the form again)."""
    fields = form.redisplay()
    for name in lists:
        fields[name] = form.values.get(name) or []
    return fields


# ── single fields ───────────────────────────────────────────────────────────────────────


def read_number(
    form: Form,
    name: str,
    *,
    required: bool = False,
    minimum: Decimal = Decimal(0),
    maximum: Decimal,
    above_minimum: bool = False,
    places: int = 2,
) -> Decimal | None:
    """A decimal number typed with a point or a comma (2.5 or 2,5)."""
    raw = form.raw(name)
    form.values[name] = raw
    if not raw:
        if required:
            form.errors[name] = _("Please fill in this field.")
        return None
    value = None
    if NUMBER.match(raw) and len(raw) <= 12:
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            value = None
    if value is None:
        form.errors[name] = _("Please enter a number, e.g. 2.5.")
        return None
    too_low = value <= minimum if above_minimum else value < minimum
    if too_low or value > maximum:
        if above_minimum:
            message = _(
                "Please enter a number greater than %(min)s and at most %(max)s.",
                min=metres(minimum),
                max=metres(maximum),
            )
        else:
            message = _(
                "Please enter a number from %(min)s to %(max)s.",
                min=metres(minimum),
                max=metres(maximum),
            )
        form.errors[name] = message
        return None
    if value != round(value, places):
        form.errors[name] = _("At most %(n)s decimal places, please.", n=places)
        return None
    return value


def read_email(form: Form, name: str) -> str:
    value = form.email(name, required=True)
    if value and name not in form.errors and any(c in value for c in '<>"'):
        form.errors[name] = _("Please enter a valid e-mail address, e.g. name@example.org.")
    return value


def read_website(form: Form, name: str = "website") -> str:
    value = form.text(name, max_length=300)
    if value and name not in form.errors and not WEBSITE.match(value):
        form.errors[name] = _(
            "Please enter a web address that starts with https:// or http://, "
            "e.g. https://example.org."
        )
    return value


def read_topics(form: Form) -> list[str]:
    """The ticked common topics and the typed ones (comma-separated), at most ten in all."""
    picked = form.choices("topics", TOPIC_VALUES, at_least=0)
    typed = form.text("other_topics", max_length=1000)
    others = [t.strip() for t in typed.split(",") if t.strip()]
    if "other_topics" in form.errors:
        return picked
    for topic in others:
        if "<" in topic or ">" in topic:
            form.errors["other_topics"] = _("Topics may not contain the characters < and >.")
            return picked
        if len(topic) > TOPIC_LENGTH:
            form.errors["other_topics"] = _(
                "Each topic may have at most %(n)s characters.", n=TOPIC_LENGTH
            )
            return picked
    chosen: list[str] = []
    for topic in picked + others:
        if topic.casefold() not in {t.casefold() for t in chosen}:
            chosen.append(topic)
    if len(chosen) > MAX_TOPICS:
        form.errors["other_topics"] = _("At most %(n)s topics in all, please.", n=MAX_TOPICS)
    return chosen


# ── the organisation's forms ────────────────────────────────────────────────────────────


def read_directory(form: Form) -> dict[str, Any]:
    """The part of the request that the public directory shows (also edited later)."""
    description = form.text("description", required=True, max_length=DESCRIPTION_LENGTH)
    description_en = form.text("description_en", max_length=DESCRIPTION_LENGTH)
    return {
        "description": description,
        "description_en": description_en,
        "topics": read_topics(form),
        "website": read_website(form),
    }


def directory_fields(booking: asyncpg.Record) -> dict[str, Any]:
    """A booking's directory entry as its form shows it: the common topics ticked, the rest
    typed."""
    values = list(booking["topics"])
    return {
        "description": booking["description"],
        "description_en": booking["description_en"],
        "topics": [t for t in values if t in TOPIC_VALUES],
        "other_topics": ", ".join(t for t in values if t not in TOPIC_VALUES),
        "website": booking["website"],
    }


def read_request(form: Form) -> dict[str, Any]:
    """The booking request (the rules of schemas.BookingCreate)."""
    organisation = form.name("organisation", required=True, kind="organisation_name")
    kind = form.choice("kind", KIND_VALUES)
    contact_name = form.name("contact_name", required=True)
    email = read_email(form, "email")
    phone = form.text("phone", max_length=50)
    if phone and "phone" not in form.errors and not PHONE.match(phone):
        form.errors["phone"] = _(
            "Please use only digits, spaces and + ( ) / . - in the phone number."
        )
    directory = read_directory(form)
    width = read_number(form, "wished_width_m", maximum=Decimal(100), above_minimum=True)
    depth = read_number(form, "wished_depth_m", maximum=Decimal(100), above_minimum=True)
    wished_features = form.choices("wished_features", FEATURE_VALUES, at_least=0)
    staff_count = form.integer("staff_count", minimum=0, maximum=50)
    language = form.choice("language", ("de", "en"))
    return {
        "organisation": organisation,
        "kind": kind,
        "contact_name": contact_name,
        "email": email,
        "phone": phone,
        **directory,
        "wished_width_m": float(width) if width is not None else None,
        "wished_depth_m": float(depth) if depth is not None else None,
        "wished_features": wished_features,
        "staff_count": staff_count,
        "language": language,
    }


def read_pass(form: Form) -> tuple[str, str, str]:
    """A stand staff member: (name, e-mail address, language of the pass)."""
    name = form.name("pass_name", required=True)
    email = read_email(form, "pass_email")
    language = form.choice("pass_language", ("de", "en"))
    return name, email, language


# ── the organisers' forms ───────────────────────────────────────────────────────────────


def _cents(form: Form, name: str) -> int:
    euros = read_number(form, name, maximum=Decimal(1_000_000))
    return int(euros * 100) if euros is not None else 0


def _shared(form: Form, p: str) -> dict[str, Any]:
    """What one stand and a row have in common; `p` is the form's prefix for its fields."""
    hundred = Decimal(100)
    width = read_number(form, f"{p}width_m", required=True, maximum=hundred, above_minimum=True)
    depth = read_number(form, f"{p}depth_m", required=True, maximum=hundred, above_minimum=True)
    x = read_number(form, f"{p}x", maximum=Decimal(10_000))
    y = read_number(form, f"{p}y", maximum=Decimal(10_000))
    return {
        "area": form.text(f"{p}area", max_length=100),
        "width_m": float(width) if width is not None else None,
        "depth_m": float(depth) if depth is not None else None,
        "x": float(x or 0),
        "y": float(y or 0),
        "features": form.choices(f"{p}features", FEATURE_VALUES, at_least=0),
        "price_cents": _cents(form, f"{p}price"),
        "max_staff": form.integer(f"{p}max_staff", minimum=0, maximum=50),
    }


def read_stand(form: Form) -> dict[str, Any]:
    code = form.text("code", required=True, max_length=12)
    if code and "code" not in form.errors and not CODE.match(code):
        form.errors["code"] = _(
            "Letters, digits, '.' and '-', starting with a letter or digit; e.g. B12."
        )
    return {"code": code, **_shared(form, "")}


def read_row(form: Form) -> list[dict[str, Any]]:
    """A row of equal stands (B1 … B10), as the stands it makes; none if a field is wrong."""
    prefix = form.text("row_prefix", max_length=3)
    if "row_prefix" not in form.errors and not PREFIX.match(prefix):
        form.errors["row_prefix"] = _("Up to three letters, e.g. B.")
    first = form.integer("row_first_number", minimum=0, maximum=9999)
    count = form.integer("row_count", minimum=1, maximum=200)
    gap = read_number(form, "row_gap_m", maximum=Decimal(50))
    direction = form.choice("row_direction", ("right", "down"))
    row = {
        "prefix": prefix,
        "first_number": first,
        "count": count,
        "direction": direction,
        "gap_m": float(gap or 0),
        **_shared(form, "row_"),
    }
    if not form.valid:
        return []
    stands = stand_row(row)
    too_long = [s["code"] for s in stands if not CODE.match(s["code"])]
    if too_long:
        form.errors["row_prefix"] = _(
            "The codes would be too long, e.g. %(code)s.", code=too_long[0]
        )
        return []
    return stands


def read_blocked(data: Mapping[str, Any]) -> bool:
    return data.get("blocked") == "yes"


def read_reason(data: Mapping[str, Any], *, required: bool) -> tuple[str, str | None]:
    """The reason for the waiting list or a rejection (which needs one; the organisation
    reads it), and the message if it cannot be taken."""
    reason = (data.get("reason") or "").strip()
    error = None
    if required and not reason:
        error = _("Please give a reason; the organisation reads it.")
    elif len(reason) > REASON_LENGTH:
        error = _("At most %(n)s characters, please.", n=REASON_LENGTH)
    return reason, error
