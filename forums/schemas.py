"""Shapes of forums and sign-ups in the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from service.validation import ONE_LINE, TEXT, Id, Input, Moment

Title = Annotated[str, Meta(min_length=1, max_length=200, pattern=ONE_LINE)]
OptionalTitle = Annotated[str, Meta(max_length=200, pattern=ONE_LINE)]
Text = Annotated[str, Meta(max_length=5000, pattern=TEXT)]
Short = Annotated[str, Meta(max_length=300, pattern=ONE_LINE)]
Capacity = Annotated[int, Meta(ge=0, le=100_000)]


class ForumCreate(Input, forbid_unknown_fields=True):
    title: Title
    starts_at: Moment
    ends_at: Moment
    capacity: Capacity
    room: Short = ""
    title_en: OptionalTitle = ""
    description: Text = ""
    description_en: Text = ""
    language: Short = "de"
    interpretation: Short = ""
    accessibility: Short = ""
    moderators: Short = ""


class ForumUpdate(Input, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    starts_at: Moment | UnsetType = UNSET
    ends_at: Moment | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    room: Short | UnsetType = UNSET
    title_en: OptionalTitle | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    description_en: Text | UnsetType = UNSET
    language: Short | UnsetType = UNSET
    interpretation: Short | UnsetType = UNSET
    accessibility: Short | UnsetType = UNSET
    moderators: Short | UnsetType = UNSET
    cancelled: bool | UnsetType = UNSET


class Forum(Struct):
    id: int
    conference: str
    title: str
    title_en: str
    description: str
    description_en: str
    room: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_left: int
    waiting: int
    language: str
    interpretation: str
    accessibility: str
    moderators: str
    cancelled: bool


class Signup(Struct):
    status: Literal["confirmed", "waitlisted"]
    position: int | None


class Left(Struct):
    status: Literal["left"] = "left"


class MoveRequest(Struct, forbid_unknown_fields=True):
    registration_id: Id
    to_forum_id: Id


class Participant(Struct):
    registration_id: int
    name: str
    organisation: str
    email: str
    category: str
    status: str
    position: int | None
    attended: bool


class ParticipantPage(Struct):
    items: list[Participant]
    next: int | None


class AttendanceRequest(Struct, forbid_unknown_fields=True):
    secret: Annotated[str, Meta(min_length=1, max_length=100)]


class AttendanceDecision(Struct):
    status: Literal["signed_up", "waiting", "not_signed_up", "invalid"]
    attendee: dict[str, str] | None
    first_seen_at: datetime | None
