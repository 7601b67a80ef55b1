"""Pages of door devices: the organiser's "Doors and devices" page of a conference (add a door,
its pairing screen with the QR code, the list, removal), and the phone's pairing page
(`/pair/{code}`), whose button pairs through the API (registration/entrance/devices.py).

The phone's page pairs only when its button is pressed, never on opening: a link preview or a
QR reader that fetches the link must not use the code up.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from registration.entrance import device_queries as queries
from registration.entrance import devices
from registration.entrance.device_api import PAIRING_LIMIT
from registration.entrance.scanner import DEVICE_PAGE
from registration.staff_api import ORGANISER
from service.auth import CurrentStaff
from service.conferences.lookups import STAFF, ConferenceRow
from service.db import DB
from service.errors import FieldErrors, status_of
from service.forms import Form
from service.i18n import gettext as _
from service.qr import qr_svg
from service.validation import BIGINT

NOT_CACHED = {"Cache-Control": "private, no-store"}
LISTED = 500  # doors shown on the page; a conference has a handful


def _page(name: str, context: dict[str, Any], status: int = 200) -> Template:
    return Template(
        f"registration/{name}.html",
        context=context,
        status_code=status,
        media_type=MediaType.HTML,
        headers=NOT_CACHED,
    )


async def _list(
    db: asyncpg.Connection,
    conference: asyncpg.Record,
    *,
    fields: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    removed: bool = False,
    status: int = 200,
) -> Template:
    rows, _next = await queries.page(db, conference["id"], 0, LISTED)
    doors = [{**dict(r), "status": devices.status(r)} for r in rows]
    return _page(
        "devices",
        {
            "conference": conference,
            "doors": doors,
            "fields": fields or {},
            "errors": errors or {},
            "removed": removed,
        },
        status,
    )


async def _door_or_404(
    db: asyncpg.Connection, conference: asyncpg.Record, device_id: int
) -> asyncpg.Record:
    row = await queries.one(db, conference["id"], device_id) if 0 < device_id <= BIGINT else None
    if row is None:
        raise devices.no_such_device()
    return row


class DevicePages(Controller):
    path = "/staff/conferences/{slug:str}/devices"
    include_in_schema = False
    guards = ORGANISER
    dependencies = STAFF

    @get("/")
    async def doors(
        self, db: DB, conference: ConferenceRow, removed: FromQuery[bool] = False
    ) -> Template:
        return await _list(db, conference, removed=removed)

    @post("/")
    async def add(
        self,
        request: Request,
        db: DB,
        state: State,
        staff: CurrentStaff,
        conference: ConferenceRow,
    ) -> Template:
        form = Form(await request.form())
        name = form.name("name", required=True, max_length=50, kind="organisation_name")
        status = 400
        if form.valid:
            try:
                new = await devices.add(db, staff, conference, name, state.settings.base_url)
            except FieldErrors as problem:
                form.errors.update(problem.errors)
                status = status_of(problem)
            else:
                label = _("QR code of the pairing link for the door %(name)s", name=new.name)
                return _page(
                    "device_pairing",
                    {
                        "conference": conference,
                        "device": new,
                        "qr": qr_svg(new.pairing_url, label),
                    },
                )
        return await _list(
            db, conference, fields=form.redisplay(), errors=form.errors, status=status
        )

    @get("/{device_id:int}/remove")
    async def confirm_removal(
        self, db: DB, conference: ConferenceRow, device_id: FromPath[int]
    ) -> Template:
        door = await _door_or_404(db, conference, device_id)
        return _page("device_remove", {"conference": conference, "door": door})

    @post("/{device_id:int}/remove")
    async def remove(
        self, db: DB, staff: CurrentStaff, conference: ConferenceRow, device_id: FromPath[int]
    ) -> Redirect:
        if not 0 < device_id <= BIGINT:
            raise devices.no_such_device()
        await devices.remove(db, staff, conference, device_id)
        return Redirect(f"/staff/conferences/{conference['slug']}/devices?removed=true")


class PairingPage(Controller):
    """The page a phone opens from the QR code: anyone with the link, nothing personal."""

    path = "/pair"
    include_in_schema = False

    @get("/{code:str}", middleware=[PAIRING_LIMIT])
    async def pairing(self, db: DB, code: FromPath[str]) -> Template:
        state = await devices.pairing_state(db, code)
        return _page(
            "pair",
            {
                "code": code,
                "device": state["device"],
                "problem": state["problem"],
                "scanner": DEVICE_PAGE,
            },
            state["status"],
        )
