"""Shapes of registrations in the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from service.validation import ONE_LINE, TEXT, Email, Input, OptionalOrganisationName, PersonName

Category = Literal["volunteer", "full_time_staff", "association", "speaker", "press"]
Status = Literal["pending_confirmation", "confirmed", "waitlisted", "cancelled"]
Language = Literal["de", "en"]
Accessibility = Literal[
    "wheelchair", "step_free", "sign_language", "induction_loop", "easy_language", "other"
]
Diet = Literal["vegetarian", "vegan", "halal", "kosher", "gluten_free", "lactose_free", "other"]
Token = Annotated[str, Meta(min_length=1, max_length=100)]


class Needs(Struct, forbid_unknown_fields=True):
    """Special-category data (GDPR Art. 9): stored only with explicit consent."""

    accessibility: list[Accessibility] = msgspec.field(default_factory=list)
    interpretation: Annotated[str, Meta(max_length=60, pattern=ONE_LINE)] | None = None
    dietary: list[Diet] = msgspec.field(default_factory=list)
    notes: Annotated[str, Meta(max_length=1000, pattern=TEXT)] = ""

    def given(self) -> bool:
        return bool(self.accessibility or self.interpretation or self.dietary or self.notes.strip())


class Consents(Struct, forbid_unknown_fields=True):
    privacy: bool = False
    special_category: bool = False
    photos: bool = False


class RegistrationCreate(Input, forbid_unknown_fields=True):
    name: PersonName
    email: Email
    category: Category
    language: Language
    consents: Consents
    organisation: OptionalOrganisationName = ""
    needs: Needs | None = None


class Accepted(Struct):
    status: Literal["pending_confirmation"] = "pending_confirmation"


class ConfirmRequest(Struct, forbid_unknown_fields=True):
    token: Token


class Confirmed(Struct):
    status: Literal["confirmed", "waitlisted"]
    manage_token: str


class Ticket(Struct):
    secret: str
    qr_svg_url: str
    qr_png_url: str
    ics_url: str


class ForumSignup(Struct):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    position: int | None


class Registration(Struct):
    status: Status
    name: str
    email: str
    organisation: str
    category: str
    language: str
    conference: str
    waitlist_position: int | None
    ticket: Ticket | None
    forums: list[ForumSignup]
    calendar_feed_url: str


class Cancelled(Struct):
    status: Literal["cancelled"] = "cancelled"


class LanguageChange(Struct, forbid_unknown_fields=True):
    language: Language
