"""API views of bookings, stands and the directory."""

from __future__ import annotations

import asyncpg

from exhibitors import queries
from exhibitors.schemas import (
    Booking,
    BookingItem,
    Directory,
    Exhibitor,
    Pass,
    Stand,
    StandRef,
)
from registration.logic import token as registration_token


def stand_view(row: asyncpg.Record) -> Stand:
    return Stand(
        id=row["id"],
        code=row["code"],
        area=row["area"],
        width_m=float(row["width_m"]),
        depth_m=float(row["depth_m"]),
        x=float(row["x"]),
        y=float(row["y"]),
        features=list(row["features"]),
        price_cents=row["price_cents"],
        max_staff=row["max_staff"],
        blocked=row["blocked"],
        booked_by=row["booked_by"],
    )


def item_view(row: asyncpg.Record) -> BookingItem:
    def metres(value):  # type: ignore[no-untyped-def]
        return float(value) if value is not None else None

    return BookingItem(
        id=row["id"],
        organisation=row["organisation"],
        email=row["email"],
        status=row["status"],
        stand_id=row["stand_id"],
        kind=row["kind"],
        contact_name=row["contact_name"],
        staff_count=row["staff_count"],
        wished_width_m=metres(row["wished_width_m"]),
        wished_depth_m=metres(row["wished_depth_m"]),
        wished_features=list(row["wished_features"]),
        topics=list(row["topics"]),
        reason=row["reason"],
    )


async def booking_view(db: asyncpg.Connection, key: bytes, booking: asyncpg.Record) -> Booking:
    passes = [
        Pass(
            id=p["id"],
            name=p["name"],
            email=p["email"],
            ticket_secret=registration_token(key, "ticket", p["ticket_salt"]),
        )
        for p in await queries.passes(db, booking["id"])
    ]
    stand = StandRef(booking["stand_id"], booking["stand_code"]) if booking["stand_id"] else None
    return Booking(
        id=booking["id"],
        status=booking["status"],
        organisation=booking["organisation"],
        stand=stand,
        directory=Directory(
            organisation=booking["organisation"],
            kind=booking["kind"],
            description=booking["description"],
            description_en=booking["description_en"],
            topics=list(booking["topics"]),
            website=booking["website"],
        ),
        passes=passes,
        staff_allowed=booking["max_staff"] or 0,
        waitlist_position=await queries.waitlist_place(db, booking),
        reason=booking["reason"],
    )


def exhibitor_view(row: asyncpg.Record) -> Exhibitor:
    return Exhibitor(
        id=row["id"],
        organisation=row["organisation"],
        kind=row["kind"],
        description=row["description"],
        description_en=row["description_en"],
        topics=list(row["topics"]),
        website=row["website"],
        stand=StandRef(row["stand_id"], row["stand_code"]),
        area=row["stand_area"],
    )
