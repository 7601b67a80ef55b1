"""msgspec's validation messages, turned into one translated message per field.

msgspec says "Expected `int` >= 0 - at `$.capacity`"; a caller wants
{"field": "capacity", "message": "Must be 0 or more."} in their own language.
"""

from __future__ import annotations

import re

from service.i18n import gettext as _

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
        re.compile(r"Expected `(?:int|float)` >= (-?\d+)"),
        lambda m: (None, _("Must be %(n)s or more.", n=m[1])),
    ),
    (
        re.compile(r"Expected `(?:int|float)` <= (-?\d+)"),
        lambda m: (None, _("Must be %(n)s or less.", n=m[1])),
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
        re.compile(r"Expected `(\w+)`(?: \| `\w+`)*, got `(\w+)`"),
        lambda m: (None, _("Wrong kind of value: expected %(expected)s.", expected=m[1])),
    ),
    (
        re.compile(r"(JSON is malformed|Input data was truncated)"),
        lambda m: ("body", _("The body is not valid JSON.")),
    ),
]


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
