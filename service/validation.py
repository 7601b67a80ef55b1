"""msgspec's validation messages, turned into one translated message per field.

msgspec says "Expected `int` >= 0 - at `$.capacity`"; a caller wants
{"field": "capacity", "message": "Must be 0 or more."} in their own language.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from babel.numbers import format_decimal
from litestar.params import QueryParameter
from msgspec import Meta

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
Email = Annotated[str, Meta(max_length=254, pattern=EMAIL_PATTERN)]
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
        re.compile(r"Expected `str` of length >= 1"),
        lambda m: (None, _("Please fill in this field.")),
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


def explain(key: str | None, message: str) -> tuple[str, str]:
    """(field, translated message) for one of msgspec's messages."""
    field = None if key in (None, "", "data", "body") else key
    at = _AT.search(message)
    if at:
        field = at.group(1).lstrip(".")
        message = message[: at.start()]
    for pattern, rule in _RULES:
        match = pattern.search(message)
        if match:
            named, text = rule(match)  # type: ignore[operator]
            return named or field or "body", text
    return field or "body", message
