"""JSON API of door devices: organisers add, list and remove a conference's doors; a phone
pairs with the code of its pairing link (registration/entrance/devices.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from registration.entrance import device_queries as queries
from registration.entrance import devices
from registration.entrance.schemas import (
    DevicePage,
    DeviceRequest,
    NewDevice,
    Paired,
    PairingRequest,
)
from registration.staff_api import NOT_CACHED, ORGANISER, STAFF_SECURITY
from service.auth import CurrentStaff
from service.conferences.lookups import STAFF, ConferenceRow, staff_conference
from service.db import DB
from service.openapi import problems
from service.ratelimit import per_client
from service.validation import BIGINT, Cursor

# Pairing codes are 192 random bits, so guessing is hopeless; the limit keeps a client from
# trying anyway (and from filling the log). The phone's page and its pairing call share it.
PAIRING_LIMIT = per_client("device-pairing", 20)


class DevicesAPI(Controller):
    path = "/api/v1/conferences/{slug:str}/devices"
    tags = ["doors"]
    guards = ORGANISER
    security = STAFF_SECURITY
    cache_control = NOT_CACHED

    @post(
        "/",
        status_code=201,
        responses=problems(409, description="The conference has a door of this name"),
        summary="Add a door: a pairing link for the phone that will scan there",
        description=(
            "`pairing_url` opened on a phone (or its QR code scanned) makes the phone a "
            "scanner for this conference alone, with the door's name as gate, without an "
            "account. The link pairs one device, once, within 24 hours; it is shown only "
            "in this answer. Names are unique among the conference's doors (any case)."
        ),
    )
    async def add(
        self,
        db: DB,
        state: State,
        staff: CurrentStaff,
        slug: FromPath[str],
        data: JSONBody[DeviceRequest],
    ) -> NewDevice:
        conference = await staff_conference(db, slug, staff)  # by hand: after the body
        return await devices.add(db, staff, conference, data.name.strip(), state.settings.base_url)

    @get(
        "/",
        summary="The conference's doors: waiting for their phone, expired or paired",
        description=(
            "Removed doors are not listed. `last_seen_at`: the device's last request, "
            "to the minute. Keyset pagination: pass `next` as `after`."
        ),
    )
    async def list_devices(
        self,
        db: DB,
        staff: CurrentStaff,
        slug: FromPath[str],
        limit: Annotated[
            int, QueryParameter(ge=1, le=500, description="Page size, 1 to 500.")
        ] = 100,
        after: Cursor = 0,
    ) -> DevicePage:
        conference = await staff_conference(db, slug, staff)  # by hand: after the query
        rows, next_id = await queries.page(db, conference["id"], after, limit)
        return DevicePage(items=[devices.to_api(r, conference) for r in rows], next=next_id)

    @delete(
        "/{device_id:int}",
        status_code=204,
        dependencies=STAFF,
        summary="Remove a door: its device's token answers 401 from its next request on",
    )
    async def remove(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow, device_id: FromPath[int]
    ) -> None:
        if not 0 < device_id <= BIGINT:
            raise devices.no_such_device()
        await devices.remove(db, staff, conference, device_id)


class PairingAPI(Controller):
    path = "/api/v1/devices"
    tags = ["doors"]

    @post(
        "/pair",
        status_code=200,
        middleware=[PAIRING_LIMIT],
        cache_control=NOT_CACHED,
        responses=problems(
            404, 409, description="Unknown code (404); used, expired or removed door (409)"
        ),
        summary="Pair a phone with a door: its token for the check-in of that conference",
        description=(
            "`code`: the last path segment of the pairing link. `token` is a Bearer token "
            "for `POST /api/v1/checkin` of this conference, with the door's name as gate, and "
            "for the scanner page's other calls for it; another conference's scan answers "
            "`error` / `other_conference`. A code pairs once: of two phones sending it at the "
            "same time, one gets the token and the other 409."
        ),
    )
    async def pair(self, db: DB, data: JSONBody[PairingRequest]) -> Paired:
        token, device = await devices.pair(db, data.code)
        return Paired(
            token=token,
            conference=device["slug"],
            name=device["name"],
            conference_title=device["title"],
            timezone=device["timezone"],
        )
