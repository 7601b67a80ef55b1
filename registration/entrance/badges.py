"""Name badges with the ticket's QR code, for printing: one per A6 sheet or four per A4."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.exceptions import ClientException, NotFoundException
from litestar.response import Template

from registration import options
from registration.entrance import queries
from registration.staff_api import (
    CATEGORIES,
    MAX_ID,
    NOT_CACHED,
    ORGANISER,
    Slug,
)
from registration.views import ticket_secret
from service import audit
from service.auth import CurrentStaff
from service.conferences.lookups import STAFF, ConferenceRow
from service.db import DB
from service.i18n import gettext as _
from service.qr import qr_svg

LAYOUTS = ("a6", "a4")
BADGES_PER_SHEET = {"a6": 1, "a4": 4}
MAX_SELECTED = 1000


def _selection(params: Any) -> tuple[str, list[int] | None, str | None]:
    """The badge sheet's query: layout, ids (from ?id= or ?ids=), category."""
    layout = params.get("layout") or "a6"
    if layout not in LAYOUTS:
        raise ClientException(_("The layout is a6 or a4."))
    category = params.get("category") or None
    if category is not None and category not in CATEGORIES:
        raise ClientException(_("There is no such category."))
    raw = ",".join(v for v in (params.get("id"), params.get("ids")) if v)
    if not raw:
        return layout, None, category
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_SELECTED or not all(p.isdigit() for p in parts):
        raise ClientException(_("Registration numbers are whole numbers separated by commas."))
    ids = [int(p) for p in parts]
    if any(not 0 < i <= MAX_ID for i in ids):
        raise ClientException(_("Registration numbers are whole numbers separated by commas."))
    return layout, ids, category


class BadgePages(Controller):
    path = "/staff/conferences/{slug:str}"
    guards = ORGANISER
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/badges")
    async def badges(
        self,
        request: Request,
        db: DB,
        state: State,
        staff: CurrentStaff,
        slug: Slug,
        conference: ConferenceRow,
    ) -> Template:
        layout, ids, category = _selection(request.query_params)
        holders = await queries.badge_holders(db, conference["id"], ids, category)
        if ids is not None and not holders:
            raise NotFoundException(_("There is no confirmed registration with this number."))
        secrets = [ticket_secret(state.settings, r) for r in holders]
        # A few hundred codes take a moment to draw: not on the event loop.
        codes = await asyncio.to_thread(lambda: [qr_svg(s) for s in secrets])
        # A sheet of names and ticket codes to print is data taken away like a CSV.
        await audit.downloaded(
            db,
            staff,
            "badges",
            format="html",
            conference_id=conference["id"],
            subject_label=conference["title"],
        )
        badges = [
            {
                "id": r["id"],
                "name": r["name"],
                "organisation": r["organisation"],
                "category": r["category"],
                "category_label": options.category_name(r["category"]),
                "qr": code,
            }
            for r, code in zip(holders, codes, strict=True)
        ]
        here = f"/staff/conferences/{slug}/badges"
        kept = {k: v for k, v in request.query_params.items() if k not in ("layout", "lang")}
        return Template(
            "registration/entrance_badges.html",
            context={
                "conference": conference,
                "badges": badges,
                "layout": layout,
                "per_sheet": BADGES_PER_SHEET[layout],
                "layout_urls": {
                    name: f"{here}?{urlencode({**kept, 'layout': name})}" for name in LAYOUTS
                },
                "back_url": f"/staff/conferences/{slug}/entrance",
            },
            media_type=MediaType.HTML,
        )
