"""What input must look like, and msgspec's validation messages turned into one translated
message per field.

The types here (patterns, `Email`, `Moment`, names) and the rules a pattern cannot state
(`Input`: dates in 2000-2100, names with visible letters, addresses one mailbox) serve the API's
schemas; the forms (service/forms.py) apply the same functions.

msgspec says "Expected `int` >= 0 - at `$.capacity`"; a caller wants
{"field": "capacity", "message": "Must be 0 or more."} in their own language.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from email.errors import MessageError
from email.headerregistry import Address
from functools import cache
from typing import Annotated, Any

import msgspec
from babel.numbers import format_decimal
from litestar.params import QueryParameter
from msgspec import UNSET, Meta, Struct

from service.i18n import current_language
from service.i18n import gettext as _

# Patterns are checked by msgspec (Python's `re`) and read from the OpenAPI by clients
# (JavaScript and others), so they avoid what the two read differently: `\s` means other sets
# of characters, and Python's `$` also matches before a final line break, which END does not.
END = r"$(?!\n)"
_CONTROL = r"\u0000-\u001f\u007f-\u009f\u2028\u2029"
_SPACE = r"\u0020\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff"
# One line of text (names, titles, rooms: they end up in mail subjects and headers, calendar
# lines and CSV cells): no line breaks, no control characters.
ONE_LINE = rf"^[^{_CONTROL}]*{END}"
# Text of several lines (descriptions, notes): line breaks and tabs, no other control character
# (PostgreSQL refuses NUL, and the rest only serves to confuse what reads the text).
TEXT = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
_NOT_IN_ADDRESS = rf'@<>"{_CONTROL}{_SPACE}'
EMAIL_PATTERN = rf"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+\.[^{_NOT_IN_ADDRESS}]+{END}"
_EMAIL = {"check": "email"}
Email = Annotated[str, Meta(max_length=254, pattern=EMAIL_PATTERN, extra=_EMAIL)]
# The same, or "" (an optional address).
OPTIONAL_EMAIL_PATTERN = f"^${END}|{EMAIL_PATTERN}"
OptionalEmail = Annotated[str, Meta(max_length=254, pattern=OPTIONAL_EMAIL_PATTERN, extra=_EMAIL)]
# A row id in a body: PostgreSQL's bigint, so that a bigger number is a field error (400)
# rather than a value the driver cannot send.
BIGINT = 2**63 - 1
Id = Annotated[int, Meta(ge=1, le=BIGINT)]
# Keyset pagination of staff lists: `?limit=` and `?after=` (the `next` of the page before).
PageSize = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, 1 to 500.")]
Cursor = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=BIGINT,
        description="The `next` cursor of the previous page.",
        # Litestar writes `le` into the OpenAPI as a float (9.223372036854776e18), which is
        # not the bound; the exact integer instead.
        schema_extra={"maximum": BIGINT},
    ),
]


# ── rules a JSON schema pattern cannot state, shared by the API (`Input`) and the forms ──────

# Every date and time that comes in lies in these years. Outside them PostgreSQL would store
# what Python cannot read back or show: asyncpg writes datetime.max as `infinity` and
# datetime.min as `-infinity` (read back as naive datetimes), and a time in year 9999 or 1
# overflows when converted to the conference's time zone, so one such value broke every page
# that lists the conference.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)  # exclusive: the years 2000 to 2100
MOMENT_DESCRIPTION = "ISO 8601 with offset, in the years 2000 to 2100"
Moment = Annotated[datetime, Meta(tz=True, description=MOMENT_DESCRIPTION)]


def in_range(moment: datetime) -> bool:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return EARLIEST <= moment < LATEST


def is_address(value: str) -> bool:
    """An address the mail package takes as one mailbox exactly as written: what the outbox
    puts into `To:` (a comma, a second @, consecutive dots, a comment or quotes are no single
    deliverable address; they were accepted, never delivered, and only logged)."""
    if not re.match(EMAIL_PATTERN, value):
        return False
    try:
        return Address(addr_spec=value).addr_spec == value
    except (ValueError, IndexError, MessageError):
        return False


# Invisible characters that only serve to disguise a name (text direction overrides and
# isolates, zero-width spaces, tag characters, soft hyphens …): every format character except
# the two joiners, which Persian and Indic scripts need inside words; private use and unassigned
# code points likewise.
_JOINERS = {"\u200c", "\u200d"}
_HIDDEN = {"Cf", "Co", "Cn", "Cs"}
# More combining marks on one letter than any script writes (stacked Tibetan letters and fully
# pointed Hebrew need up to about five): hundreds of them paint over the page around the name.
MAX_MARKS = 8
_NAME_RULES = ("name", "organisation_name")


def name_problem(value: str, kind: str = "name") -> str | None:
    """Why `value` is no person's name (kind "name") or organisation's name: "blank" (nothing
    but spaces, also no-break ones), "hidden" (invisible characters), "no_letter" (a person's
    name needs a letter; an organisation's a letter or a digit: "1&1") or "marks"; None if it
    is one. Only for a value given: optional fields skip "" themselves."""
    text = value.strip()
    if not text:
        return "blank"
    if any(unicodedata.category(c) in _HIDDEN and c not in _JOINERS for c in text):
        return "hidden"
    wanted = ("L",) if kind == "name" else ("L", "N")
    if not any(unicodedata.category(c)[0] in wanted for c in text):
        return "no_letter"
    run = 0
    for c in unicodedata.normalize("NFC", text):
        run = run + 1 if unicodedata.category(c)[0] == "M" else 0
        if run > MAX_MARKS:
            return "marks"
    return None


def name_type(*, kind: str = "name", max_length: int = 200, required: bool = True) -> Any:
    """A name field of an API body: one line, at most `max_length` characters, and (checked by
    `Input`) visible letters; empty allowed unless `required`."""
    assert kind in _NAME_RULES
    description = (
        "A person's name: at least one letter, no invisible formatting characters"
        if kind == "name"
        else "A name: at least one letter or digit, no invisible formatting characters"
    )
    return Annotated[
        str,
        Meta(
            min_length=1 if required else None,
            max_length=max_length,
            pattern=ONE_LINE,
            description=description,
            extra={"check": kind, "required": required},
        ),
    ]


PersonName = name_type()
OrganisationName = name_type(kind="organisation_name")
OptionalOrganisationName = name_type(kind="organisation_name", required=False)


def _problem(rule: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, datetime):
        return None if in_range(value) else "out_of_range"
    check = rule.get("check")
    if not isinstance(value, str):
        return None
    if check == "email":
        return None if value == "" or is_address(value) else "email"
    if check in _NAME_RULES and (value.strip() or rule.get("required")):
        problem = name_problem(value, check)
        return f"{check}:{problem}" if problem else None
    return None


def _rule_of(field_type: msgspec.inspect.Type) -> dict[str, Any] | None:
    """The rule of a field from its type: any date and time, or a Meta(extra={"check": …})
    (also inside `X | None` or `X | UnsetType`)."""
    inspect = msgspec.inspect
    if isinstance(field_type, inspect.UnionType):
        found = [r for t in field_type.types if (r := _rule_of(t)) is not None]
        return found[0] if found else None
    if isinstance(field_type, inspect.Metadata):
        if field_type.extra and "check" in field_type.extra:
            return field_type.extra
        return _rule_of(field_type.type)
    if isinstance(field_type, inspect.DateTimeType):
        return {"check": "moment"}
    return None


@cache
def _rules(cls: type) -> tuple[tuple[str, dict[str, Any]], ...]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple((f.name, rule) for f in info.fields if (rule := _rule_of(f.type)) is not None)


class Input(Struct):
    """Base of the API's request bodies: after msgspec's own checks, the rules above for every
    field whose type asks for them, so that a body is refused with 400 naming the field.

    msgspec turns the ValueError into its validation error at the struct's path (`$` or
    `$.scans[3]`); `explain` reads the field back out of the message."""

    def __post_init__(self) -> None:
        for name, rule in _rules(type(self)):
            value = getattr(self, name)
            if value is UNSET or value is None:
                continue
            problem = _problem(rule, value)
            if problem:
                raise ValueError(f"Invalid `{name}`: {problem}")


def name_message(problem: str, kind: str = "name") -> str:
    """The visitor's words for a `name_problem`."""
    if problem == "blank":
        return _("Please fill in this field.")
    if problem == "hidden":
        return _("Please remove invisible formatting characters (e.g. text direction marks).")
    if problem == "marks":
        return _("Please remove the stacked accent marks.")
    if kind == "name":
        return _("Please enter a name with at least one letter.")
    return _("Please enter a name with at least one letter or digit.")


def out_of_range_message() -> str:
    return _("Please give a date in the years 2000 to 2100.")


def _input_message(problem: str) -> str:
    if problem == "out_of_range":
        return out_of_range_message()
    if problem == "email":
        return _("Please enter a valid e-mail address, e.g. name@example.org.")
    kind, _colon, name = problem.partition(":")
    return name_message(name, kind)


def _matching(pattern: str) -> re.Pattern[str]:
    """msgspec's message for this pattern (it quotes the pattern as Python's repr does)."""
    return re.compile(re.escape(f"Expected `str` matching regex {pattern!r}"))


_AT = re.compile(r"\s+-\s+at\s+`\$((?:\.\w+|\[\d+\])+)`$")
_RULES: list[tuple[re.Pattern[str], object]] = [
    (
        re.compile(r"Object missing required field `(\w+)`"),
        lambda m: (m[1], _("Please fill in this field.")),
    ),
    (
        re.compile(r"Object contains unknown field `(\w+)`"),
        lambda m: (m[1], _("This field is not known.")),
    ),
    (
        re.compile(r"Expected `datetime` with a timezone component"),
        lambda m: (None, _("Give the time with its offset, e.g. 2027-03-06T09:00:00+01:00.")),
    ),
    (
        re.compile(r"Expected `(?:int|float)` >= (-?[\d.]+)"),
        lambda m: (None, _("Must be %(n)s or more.", n=_number(m[1]))),
    ),
    (
        re.compile(r"Expected `(?:int|float)` <= (-?[\d.]+)"),
        lambda m: (None, _("Must be %(n)s or less.", n=_number(m[1]))),
    ),
    (
        re.compile(r"Expected `(?:int|float)` > (-?[\d.]+)"),
        lambda m: (None, _("Must be more than %(n)s.", n=_number(m[1]))),
    ),
    (
        re.compile(r"Expected `(?:int|float)` < (-?[\d.]+)"),
        lambda m: (None, _("Must be less than %(n)s.", n=_number(m[1]))),
    ),
    (
        re.compile(r"Expected `str` of length >= 1(?!\d)"),
        lambda m: (None, _("Please fill in this field.")),
    ),
    (
        re.compile(r"Expected `str` of length >= (\d+)"),
        lambda m: (None, _("At least %(n)s characters, please.", n=m[1])),
    ),
    (
        re.compile(r"Expected `str` of length <= (\d+)"),
        lambda m: (None, _("At most %(n)s characters, please.", n=m[1])),
    ),
    (
        re.compile(r"Expected `array` of length >= (\d+)"),
        lambda m: (None, _("Please choose at least one option.")),
    ),
    (
        _matching(ONE_LINE),
        lambda m: (None, _("Please remove line breaks and control characters.")),
    ),
    (
        _matching(TEXT),
        lambda m: (None, _("Please remove control characters.")),
    ),
    (
        _matching(EMAIL_PATTERN),
        lambda m: (None, _("Please enter a valid e-mail address, e.g. name@example.org.")),
    ),
    (
        _matching(OPTIONAL_EMAIL_PATTERN),
        lambda m: (None, _("Please enter a valid e-mail address, e.g. name@example.org.")),
    ),
    (
        re.compile(r"Expected `str` matching regex"),
        lambda m: (None, _("This value does not have the expected form.")),
    ),
    (
        re.compile(r"Invalid enum value"),
        lambda m: (None, _("Please choose one of the allowed values.")),
    ),
    (
        re.compile(r"Invalid RFC3339 encoded datetime|Expected `datetime`"),
        lambda m: (None, _("Give a date and time like 2027-03-06T09:00:00+01:00.")),
    ),
    (
        # msgspec: "Expected `int`, got `str`", "Expected `object | null`, got `array`"
        re.compile(r"Expected `(\w+)[^`]*`(?: \| `[^`]*`)*, got `(\w+)`"),
        lambda m: (None, _("Wrong kind of value: expected %(expected)s.", expected=_kind(m[1]))),
    ),
    (
        re.compile(r"(JSON is malformed|Input data was truncated)"),
        lambda m: ("body", _("The body is not valid JSON.")),
    ),
    (
        # Litestar's words for a request without the body the operation needs.
        re.compile(r"^'data'$"),
        lambda m: ("body", _("Please send the data as a JSON object in the body.")),
    ),
    (
        re.compile(r"codec can't decode|invalid UTF-8|Invalid UTF-8"),
        lambda m: ("body", _("The body is not valid UTF-8 text.")),
    ),
]


def _kind(json_type: str) -> str:
    """msgspec's name of a JSON type, in words."""
    kinds = {
        "int": _("a whole number"),
        "float": _("a number"),
        "str": _("text"),
        "bool": _("true or false"),
        "object": _("an object"),
        "array": _("a list"),
        "datetime": _("a date and time"),
        "null": _("null"),
    }
    return kinds.get(json_type, json_type)


def _number(text: str) -> str:
    """A bound from msgspec's message ("0.01", "100.0") as the reader writes numbers: 0,01, 100.
    Integers stay as they are (an id's bound has 19 digits and no thousands separators)."""
    if "." not in text:
        return text
    return format_decimal(Decimal(text), format="0.##", locale=current_language.get())


# What `Input` raises, as msgspec and Litestar pass it on (the struct's own path is the key).
_INPUT = re.compile(r"^Invalid `(\w+)`: ([\w:]+)$")


def explain(key: str | None, message: str) -> tuple[str, str]:
    """(field, translated message) for one of msgspec's messages."""
    field = None if key in (None, "", "data", "body") else key
    at = _AT.search(message)
    if at:
        field = at.group(1).lstrip(".")
        message = message[: at.start()]
    checked = _INPUT.match(message)
    if checked:
        named = checked[1] if field is None else f"{field}.{checked[1]}"
        return named, _input_message(checked[2])
    for pattern, rule in _RULES:
        match = pattern.search(message)
        if match:
            named, text = rule(match)  # type: ignore[operator]
            return named or field or "body", text
    return field or "body", message
