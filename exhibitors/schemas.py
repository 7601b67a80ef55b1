"""Shapes of stands, booking requests and the directory in the JSON API."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from exhibitors.options import BookingStatus, Feature, Kind
from service.validation import (
    END,
    ONE_LINE,
    TEXT,
    Email,
    Id,
    Input,
    OrganisationName,
    PersonName,
)

Code = Annotated[
    str, Meta(pattern=rf"^[A-Za-z0-9][A-Za-z0-9.-]{{0,11}}{END}", description="e.g. B12")
]
# Stored to the centimetre (numeric(6, 2)): less than 1 cm would be 0.
Metres = Annotated[float, Meta(ge=0.01, le=100)]
Position = Annotated[float, Meta(ge=0, le=10_000)]
_URL = r"[^\u0000-\u0020\u007f-\u00a0<>\"]"  # no space, control character, <, > or "
Website = Annotated[str, Meta(max_length=300, pattern=rf"^$|^https?://{_URL}+\.{_URL}+{END}")]
Description = Annotated[str, Meta(max_length=2000, pattern=TEXT)]
Topic = Annotated[
    str, Meta(min_length=1, max_length=40, pattern=rf"^[^<>\u0000-\u001f\u007f-\u009f]+{END}")
]
Reason = Annotated[str, Meta(max_length=1000, pattern=TEXT)]
Area = Annotated[str, Meta(max_length=100, pattern=ONE_LINE)]


class StandCreate(Struct, forbid_unknown_fields=True):
    code: Code
    width_m: Metres
    depth_m: Metres
    x: Position = 0
    y: Position = 0
    area: Area = ""
    features: list[Feature] = msgspec.field(default_factory=list)
    price_cents: Annotated[int, Meta(ge=0, le=100_000_000)] = 0
    max_staff: Annotated[int, Meta(ge=0, le=50)] = 3
    blocked: bool = False


class StandRow(Struct, forbid_unknown_fields=True):
    """A row of equal stands: prefix "B", first number 1, count 10 → B1 … B10."""

    prefix: Annotated[str, Meta(pattern=rf"^[A-Za-z]{{0,3}}{END}")]
    first_number: Annotated[int, Meta(ge=0, le=9999)]
    count: Annotated[int, Meta(ge=1, le=200)]
    width_m: Metres
    depth_m: Metres
    x: Position = 0
    y: Position = 0
    direction: Literal["right", "down"] = "right"
    gap_m: Annotated[float, Meta(ge=0, le=50)] = 0
    area: Area = ""
    features: list[Feature] = msgspec.field(default_factory=list)
    price_cents: Annotated[int, Meta(ge=0, le=100_000_000)] = 0
    max_staff: Annotated[int, Meta(ge=0, le=50)] = 3


class StandUpdate(Struct, forbid_unknown_fields=True):
    area: Area | UnsetType = UNSET
    width_m: Metres | UnsetType = UNSET
    depth_m: Metres | UnsetType = UNSET
    x: Position | UnsetType = UNSET
    y: Position | UnsetType = UNSET
    features: list[Feature] | UnsetType = UNSET
    price_cents: Annotated[int, Meta(ge=0, le=100_000_000)] | UnsetType = UNSET
    max_staff: Annotated[int, Meta(ge=0, le=50)] | UnsetType = UNSET
    blocked: bool | UnsetType = UNSET


class Stand(Struct):
    id: int
    code: str
    area: str
    width_m: float
    depth_m: float
    x: float
    y: float
    features: list[str]
    price_cents: int
    max_staff: int
    blocked: bool
    booked_by: str | None


class BookingCreate(Input, forbid_unknown_fields=True):
    organisation: OrganisationName
    kind: Kind
    contact_name: PersonName
    email: Email
    description: Description
    topics: Annotated[list[Topic], Meta(max_length=10)]
    staff_count: Annotated[int, Meta(ge=0, le=50)]
    website: Website = ""
    phone: Annotated[str, Meta(max_length=50, pattern=rf"^[0-9+()/ .-]*{END}")] = ""
    description_en: Description = ""
    wished_width_m: Metres | None = None
    wished_depth_m: Metres | None = None
    wished_features: list[Feature] = msgspec.field(default_factory=list)
    language: Literal["de", "en"] = "de"


class Accepted(Struct):
    status: Literal["pending_confirmation"] = "pending_confirmation"


class ConfirmRequest(Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(min_length=1, max_length=100)]


class Confirmed(Struct):
    status: BookingStatus
    manage_token: str


class StandRef(Struct):
    id: int
    code: str


class Directory(Struct):
    organisation: str
    kind: str
    description: str
    description_en: str
    topics: list[str]
    website: str


class DirectoryUpdate(Struct, forbid_unknown_fields=True):
    description: Description | UnsetType = UNSET
    description_en: Description | UnsetType = UNSET
    topics: Annotated[list[Topic], Meta(max_length=10)] | UnsetType = UNSET
    website: Website | UnsetType = UNSET


class Pass(Struct):
    id: int
    name: str
    email: str
    ticket_secret: str | None


class PassCreate(Input, forbid_unknown_fields=True):
    name: PersonName
    email: Email
    language: Literal["de", "en"] = "de"


class Booking(Struct):
    id: int
    status: BookingStatus
    organisation: str
    stand: StandRef | None
    directory: Directory
    passes: list[Pass]
    staff_allowed: int
    waitlist_position: int | None
    reason: str


class BookingItem(Struct):
    id: int
    organisation: str
    email: str
    status: BookingStatus
    stand_id: int | None
    kind: str
    contact_name: str
    staff_count: int
    wished_width_m: float | None
    wished_depth_m: float | None
    wished_features: list[str]
    topics: list[str]
    reason: str


class BookingPage(Struct):
    items: list[BookingItem]
    next: int | None


class Approve(Struct, forbid_unknown_fields=True):
    stand_id: Id


class Decision(Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class Exhibitor(Struct):
    id: int
    organisation: str
    kind: str
    description: str
    description_en: str
    topics: list[str]
    website: str
    stand: StandRef
    area: str
