"""The entrance's shapes (msgspec): what the check-in API, the scanner and the dashboard take
and give. Times go out in the conference's time zone where the dashboard shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from service.validation import ONE_LINE, Id, Input, name_type

BATCH_LIMIT = 500


# ── check-in ────────────────────────────────────────────────────────────────

Text = Annotated[str, Meta(max_length=100, pattern=ONE_LINE)]
Slug = Annotated[str, Meta(min_length=1, max_length=80, pattern=ONE_LINE)]
Gate = Annotated[str, Meta(max_length=50, pattern=ONE_LINE)]


class CheckinRequest(Struct, forbid_unknown_fields=True):
    conference: Slug
    secret: Annotated[str, Meta(max_length=200, pattern=ONE_LINE)]
    gate: Gate = ""
    type: Literal["entry", "exit"] = "entry"
    nonce: Text | None = None


class Attendee(Struct):
    name: str
    category: str
    category_label: str
    organisation: str


class CheckinDecision(Struct):
    status: Literal["ok", "error"]
    reason: str | None
    attendee: Attendee | None
    checked_in_at: datetime | None
    gate: str | None


class PersonRequest(Struct, forbid_unknown_fields=True):
    conference: Slug
    registration_id: Id
    gate: Gate = ""


class Undone(Struct):
    undone: bool


class Found(Struct):
    registration_id: int
    name: str
    organisation: str
    category: str
    status: str
    inside: bool
    entered_at: datetime | None
    entered_gate: str | None


# ── the scanner's offline data and batch upload ────────────────────────────


class OfflineTicket(Struct):
    hash: str
    registration_id: int
    name: str
    category: str
    category_label: str
    organisation: str
    inside: bool
    entered_at: datetime | None
    entered_gate: str | None


class RefusedTicket(Struct):
    hash: str
    reason: Literal["cancelled", "not_confirmed"]


class OfflineData(Struct):
    conference: str
    timezone: str
    generated_at: datetime
    tickets: list[OfflineTicket]
    refused: list[RefusedTicket]


class BatchScan(Input, forbid_unknown_fields=True):
    secret: Annotated[str, Meta(max_length=200, pattern=ONE_LINE)]
    nonce: Annotated[str, Meta(min_length=1, max_length=100, pattern=ONE_LINE)]
    scanned_at: Annotated[
        datetime,
        Meta(
            tz=True,
            description=(
                "When the door scanned it: ISO 8601 with offset, not more than two days before "
                "both the conference's start and the upload (a later time than the upload is "
                "recorded as the upload's)"
            ),
        ),
    ]
    gate: Annotated[str, Meta(max_length=50, pattern=ONE_LINE)] = ""
    type: Literal["entry", "exit"] = "entry"


class BatchRequest(Struct, forbid_unknown_fields=True):
    conference: Annotated[str, Meta(min_length=1, max_length=80, pattern=ONE_LINE)]
    scans: Annotated[list[BatchScan], Meta(max_length=BATCH_LIMIT)]


class BatchResult(Struct):
    nonce: str
    # "retry": not decided now (too many refused scans from this device in the last
    # minute); keep it and send it again later.
    status: Literal["ok", "error", "retry"]
    reason: str | None
    attendee: Attendee | None
    checked_in_at: datetime | None
    gate: str | None
    conflict: bool


class ScanConflict(Struct):
    nonce: str
    scanned_at: datetime
    gate: str
    attendee: Attendee | None
    first_checked_in_at: datetime | None
    first_gate: str | None


class BatchAnswer(Struct):
    results: list[BatchResult]
    conflicts: list[ScanConflict]


# ── the dashboard's numbers ────────────────────────────────────────────────


class Counts(Struct):
    expected: int  # confirmed
    entered: int  # arrived at least once (an entry that was undone does not count)
    inside: int  # entered and not left


class Totals(Struct):
    attendees: Counts  # everyone but exhibitor staff
    exhibitor_staff: Counts


class CategoryCounts(Struct):
    category: str
    label: str
    expected: int
    entered: int
    inside: int


class GateCounts(Struct):
    gate: str  # "" when the device gave none
    admitted: int
    refused: int
    exits: int
    inside: int  # inside now, having entered here


class Interval(Struct):
    start: datetime
    end: datetime
    arrivals: int  # people whose first admission falls in [start, end)


class ForumCounts(Struct):
    id: int
    title: str
    language: str  # of the title
    room: str
    starts_at: datetime
    present: int  # seen at the forum's door
    signed_up: int  # holding a seat


class OfflineConflict(Struct):
    scan_id: int
    registration_id: int | None
    name: str | None
    organisation: str
    gate: str  # the door that admitted the ticket while offline
    scanned_at: datetime
    first_gate: str | None  # the entry the server had already recorded
    first_at: datetime | None


class RecentScan(Struct):
    id: int
    scanned_at: datetime
    gate: str
    type: str
    status: str
    reason: str | None
    decision: str  # in words, in the request's language
    offline: bool
    registration_id: int | None
    name: str | None


class EntranceStats(Struct):
    conference: str
    timezone: str
    generated_at: datetime
    totals: Totals
    by_category: list[CategoryCounts]
    by_gate: list[GateCounts]
    arrivals: list[Interval]
    forums: list[ForumCounts]
    offline_conflicts: list[OfflineConflict]
    recent_scans: list[RecentScan]


# ── door devices ────────────────────────────────────────────────────────────

# A door's name is the gate name of its scans (scans.gate: at most 50 characters).
DoorName = name_type(kind="organisation_name", max_length=50)


class DeviceRequest(Input, forbid_unknown_fields=True):
    name: DoorName


class PairingRequest(Struct, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=100, pattern=ONE_LINE)]


class NewDevice(Struct):
    id: int
    name: str
    pairing_url: str  # opened on the phone; its last segment is the code (once, 24 hours)
    pairing_expires_at: datetime


class Device(Struct):
    id: int
    name: str
    status: Literal["waiting", "expired", "paired"]
    created_at: datetime
    pairing_expires_at: datetime
    paired_at: datetime | None
    last_seen_at: datetime | None


class DevicePage(Struct):
    items: list[Device]
    next: int | None  # the last id of this page, when there is a next one: pass it as `after`


class Paired(Struct):
    token: str  # the device's Bearer token, shown this once
    conference: str  # the slug
    name: str  # the door
    conference_title: str
    timezone: str
