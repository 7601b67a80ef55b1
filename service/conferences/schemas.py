"""Shapes of conferences and programme items in the JSON API (msgspec validates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from service.validation import END, ONE_LINE, TEXT, Input, Moment, OptionalEmail, name_type

Slug = Annotated[
    str,
    Meta(
        pattern=rf"^[a-z0-9]+(-[a-z0-9]+)*{END}",
        max_length=80,
        description="lower-case letters, digits, single hyphens: integrationskonferenz-2027",
    ),
]
Title = Annotated[str, Meta(min_length=1, max_length=200, pattern=ONE_LINE)]
ShortText = Annotated[str, Meta(max_length=500, pattern=ONE_LINE)]
Address = Annotated[str, Meta(max_length=500, pattern=TEXT)]
LongText = Annotated[str, Meta(max_length=10_000, pattern=TEXT)]
Capacity = Annotated[int, Meta(ge=0, le=1_000_000)]
Language = Literal["de", "en"]
ItemKind = Literal["plenary", "forums", "market", "break"]
OrganiserName = name_type(kind="organisation_name", max_length=500, required=False)


class ConferenceCreate(Input, forbid_unknown_fields=True):
    slug: Slug
    title: Title
    venue: Title
    address: Address
    starts_at: Moment
    ends_at: Moment
    capacity: Capacity
    registration_opens_at: Moment | None = None
    registration_closes_at: Moment | None = None
    description: LongText = ""
    languages: Annotated[list[Language], Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: ["de", "en"]
    )
    organiser_name: OrganiserName = ""
    organiser_email: OptionalEmail = ""


class ConferenceUpdate(Input, forbid_unknown_fields=True):
    slug: Slug | UnsetType = UNSET
    title: Title | UnsetType = UNSET
    venue: Title | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    starts_at: Moment | UnsetType = UNSET
    ends_at: Moment | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    registration_opens_at: Moment | UnsetType = UNSET
    registration_closes_at: Moment | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    languages: Annotated[list[Language], Meta(min_length=1, max_length=2)] | UnsetType = UNSET
    organiser_name: OrganiserName | UnsetType = UNSET
    organiser_email: OptionalEmail | UnsetType = UNSET
    published: bool | UnsetType = UNSET


class ProgrammeItemCreate(Input, forbid_unknown_fields=True):
    title: Title
    kind: ItemKind
    starts_at: Moment
    ends_at: Moment
    room: ShortText = ""


class ProgrammeItemUpdate(Input, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    kind: ItemKind | UnsetType = UNSET
    starts_at: Moment | UnsetType = UNSET
    ends_at: Moment | UnsetType = UNSET
    room: ShortText | UnsetType = UNSET


class ProgrammeItem(Struct):
    id: int
    title: str
    kind: ItemKind
    starts_at: datetime
    ends_at: datetime
    room: str


class Organiser(Struct):
    name: str
    email: str


class Conference(Struct):
    slug: str
    title: str
    description: str
    venue: str
    address: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity: int
    seats_left: int
    registration_opens_at: datetime
    registration_closes_at: datetime
    registration_open: bool
    languages: list[str]
    organiser: Organiser
    published: bool
    programme: list[ProgrammeItem]


class ConferenceSummary(Struct):
    slug: str
    title: str
    venue: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_left: int
    registration_open: bool


def given(struct: Struct) -> dict[str, object]:
    """The fields a PATCH body actually carried."""
    return {
        name: value
        for name in struct.__struct_fields__
        if (value := getattr(struct, name)) is not UNSET
    }
