"""Shapes of staff accounts in the JSON API (msgspec validates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from service.conferences.schemas import Slug
from service.team.passwords import MAX_LENGTH, MIN_LENGTH
from service.validation import Email, Input, name_type

Role = Literal["admin", "organiser", "scanner"]
Status = Literal["invited", "active", "deactivated"]
Conferences = Annotated[
    list[Slug],
    Meta(
        max_length=1000,
        description="Slugs of the conferences the account may see; empty: all of them",
    ),
]
StaffName = name_type(required=False)
Password = Annotated[
    str,
    Meta(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=(
            f"At least {MIN_LENGTH} characters; common passwords (also with digits or signs "
            "added), simple patterns and the account's own name or address are refused (400)"
        ),
    ),
]
LinkToken = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        description="The last part of the link's address (/staff/invite/{token})",
    ),
]


class StaffCreate(Input, forbid_unknown_fields=True):
    email: Email
    role: Role
    name: StaffName = ""
    conferences: Conferences = msgspec.field(default_factory=list)


class StaffUpdate(Input, forbid_unknown_fields=True):
    role: Role | UnsetType = UNSET
    conferences: Conferences | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    name: StaffName | UnsetType = UNSET


class StaffMember(Struct):
    id: int
    email: str
    name: str
    role: Role
    conferences: list[str]  # slugs; empty when all_conferences
    all_conferences: bool
    status: Status
    created_at: datetime
    last_login_at: datetime | None


class StaffPage(Struct):
    items: list[StaffMember]
    next: int | None  # the last id of this page, when there is a next one: pass it as `after`


class InvitationAccept(Struct, forbid_unknown_fields=True):
    token: LinkToken
    password: Password


class Activated(Struct):
    status: Literal["active"] = "active"


class PasswordResetRequest(Input, forbid_unknown_fields=True):
    email: Email


class ResetAccepted(Struct):
    status: Literal["accepted"] = "accepted"


def member_view(row: asyncpg.Record) -> StaffMember:
    return StaffMember(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        conferences=list(row["conferences"]),
        all_conferences=row["all_conferences"],
        status=row["status"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )
