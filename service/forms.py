"""Reading HTML form fields into values, collecting a message per invalid field.

Pages show the form again with these messages next to the fields (and tied to them with
aria-describedby), in the visitor's language; nothing is written until every field is valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar.datastructures import FormMultiDict

from service.i18n import gettext as _
from service.validation import (
    in_range,
    is_address,
    name_message,
    name_problem,
    out_of_range_message,
)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Control characters no form field takes (tabs and line breaks aside): PostgreSQL refuses NUL,
# and the rest only confuses what shows the text. The JSON API refuses the same
# (service.validation.TEXT).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Form:
    def __init__(self, data: FormMultiDict, timezone: str = "Europe/Berlin") -> None:
        self.data = data
        self.zone = ZoneInfo(timezone)
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    @property
    def valid(self) -> bool:
        return not self.errors

    def redisplay(self) -> dict[str, Any]:
        """What the visitor typed, for showing the form again (multi-value fields as lists)."""
        return {
            key: values[0] if len(values) == 1 else values
            for key in self.data
            for values in [self.data.getall(key)]
        }

    def raw(self, name: str) -> str:
        value = self.data.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.raw(name)
        if required and not value:
            self.errors[name] = _("Please fill in this field.")
        elif len(value) > max_length:
            self.errors[name] = _("At most %(n)s characters, please.", n=max_length)
        elif CONTROL.search(value):
            self.errors[name] = _("Please remove control characters.")
        self.values[name] = value
        return value

    def name(
        self, name: str, *, required: bool = False, max_length: int = 200, kind: str = "name"
    ) -> str:
        """A person's name (kind "name") or an organisation's ("organisation_name"): visible
        letters, as the API's names (service.validation.name_problem)."""
        value = self.text(name, required=required, max_length=max_length)
        if value and name not in self.errors and (problem := name_problem(value, kind)):
            self.errors[name] = name_message(problem, kind)
        return value

    def slug(self, name: str) -> str:
        value = self.text(name, required=True, max_length=80)
        if value and name not in self.errors and not SLUG.match(value):
            self.errors[name] = _(
                "Only lower-case letters, digits and single hyphens, e.g. konferenz-2027."
            )
        return value

    def email(self, name: str, *, required: bool = False) -> str:
        value = self.text(name, required=required, max_length=254).lower()
        # The API's check: one mailbox as the mail package reads it.
        if value and name not in self.errors and not is_address(value):
            self.errors[name] = _("Please enter a valid e-mail address, e.g. name@example.org.")
        self.values[name] = value
        return value

    def integer(self, name: str, *, minimum: int = 0, maximum: int = 1_000_000) -> int | None:
        raw = self.raw(name)
        if not raw:
            self.errors[name] = _("Please fill in this field.")
            return None
        try:
            value = int(raw)
        except ValueError:
            self.errors[name] = _("Please enter a whole number.")
            return None
        if not minimum <= value <= maximum:
            self.errors[name] = _(
                "Please enter a number from %(min)s to %(max)s.", min=minimum, max=maximum
            )
            return None
        self.values[name] = value
        return value

    def moment(self, name: str, *, required: bool = True) -> datetime | None:
        """A `datetime-local` field, read in the conference's time zone."""
        raw = self.raw(name)
        if not raw:
            if required:
                self.errors[name] = _("Please enter a date and time.")
            self.values[name] = None
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = _("Please enter a date and time, e.g. 2027-03-06 09:00.")
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        if not in_range(value):
            self.errors[name] = out_of_range_message()
            return None
        self.values[name] = value
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        value = self.raw(name)
        if value not in set(choices):
            self.errors[name] = _("Please choose one of the options.")
        self.values[name] = value
        return value

    def choices(self, name: str, choices: Iterable[str], *, at_least: int = 1) -> list[str]:
        allowed = list(choices)
        picked = [v for v in self.data.getall(name, []) if v in allowed]
        if len(picked) < at_least:
            self.errors[name] = _("Please choose at least one option.")
        self.values[name] = picked
        return picked

    def checkbox(self, name: str) -> bool:
        self.values[name] = self.raw(name) in ("on", "1", "true", "yes")
        return self.values[name]


def local_input(value: datetime | None, timezone: str = "Europe/Berlin") -> str:
    """A datetime as a `datetime-local` input value in the conference's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")
