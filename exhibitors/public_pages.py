"""Public pages of the market of opportunities: the exhibitor directory and the floor plan.

`GET /conferences/{slug}/exhibitors` (HTML) lists the approved exhibitors with their stands,
filters by topic and shows the floor plan inline; `GET /conferences/{slug}/floorplan.svg`
is the same plan as a file (public contract, see API.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

import asyncpg
from litestar import Controller, MediaType, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from exhibitors import floorplan, queries
from exhibitors.options import kind_name
from exhibitors.options import topics as topic_choices
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.db import DB
from service.i18n import current_language

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,11}$")
# The SVG file carries no script and loads nothing; should someone open it directly, the
# browser is told so as well.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def topic_labels(values: Iterable[str]) -> list[dict[str, str | None]]:
    """Topics as shown: the suggested ones (stored as German tags) named in the page
    language, any other as typed (German, so marked lang="de"); sorted by what is shown."""
    known = dict(topic_choices())
    labels = [
        {"value": v, "label": known[v], "lang": None}
        if v in known
        else {"value": v, "label": v, "lang": "de"}
        for v in values
    ]
    return sorted(labels, key=lambda t: (t["label"] or "").casefold())


def _website(url: str) -> dict[str, str] | None:
    """The link and what to show of it (the address without https:// and a final /)."""
    if not url.startswith(("https://", "http://")):
        return None
    label = url.split("://", 1)[1]
    return {"url": url, "label": label[:-1] if label.endswith("/") else label}


def entry(row: asyncpg.Record | dict[str, Any], language: str) -> dict[str, Any]:
    """One exhibitor as the directory shows it: the English description on the English page
    when there is one, else the German one (each marked with its language)."""
    if (language == "en" and row["description_en"]) or not row["description"]:
        description, description_lang = row["description_en"], "en"
    else:
        description, description_lang = row["description"], "de"
    return {
        "id": row["id"],
        "organisation": row["organisation"],
        "kind": kind_name(row["kind"]),
        "description": description,
        "description_lang": description_lang,
        "topics": topic_labels(row["topics"]),
        "stand": row["stand_code"],
        "area": row["stand_area"],
        "website": _website(row["website"]),
    }


def _highlight(value: str | None) -> str | None:
    return value if value and _CODE.match(value) else None


class PublicExhibitorPages(Controller):
    tags = ["exhibitors"]
    dependencies = PUBLIC

    @get(
        "/conferences/{slug:str}/floorplan.svg",
        media_type="image/svg+xml",
        summary="The floor plan (SVG): stands free, booked (with the exhibitor) or blocked",
        description=(
            "Drawn from the stands' positions. `highlight` (a stand code) draws a ring around "
            "that stand. Booked stands link to the exhibitor's entry in the directory page."
        ),
    )
    async def floorplan_svg(
        self,
        db: DB,
        conference: ConferenceRow,
        highlight: FromQuery[str | None] = None,
    ) -> Response[str]:
        stands = floorplan.plan_stands(await queries.stands(db, conference["id"]))
        svg = floorplan.render(
            stands,
            slug=conference["slug"],
            title=conference["title"],
            highlight=_highlight(highlight),
        )
        return Response(
            svg,
            media_type="image/svg+xml; charset=utf-8",
            headers={
                **SVG_HEADERS,
                "Content-Disposition": f'inline; filename="floorplan-{conference["slug"]}.svg"',
            },
        )

    @get("/conferences/{slug:str}/exhibitors", include_in_schema=False)
    async def directory(
        self, db: DB, conference: ConferenceRow, topic: FromQuery[str | None] = None
    ) -> Template:
        rows = await queries.directory(db, conference["id"], None)
        present = {t for row in rows for t in row["topics"]}
        chosen = topic if topic else None
        shown = [row for row in rows if chosen is None or chosen in row["topics"]]
        language = current_language.get()
        plan = floorplan.build(
            floorplan.plan_stands(await queries.stands(db, conference["id"])),
            slug=conference["slug"],
            title=conference["title"],
            standalone=False,
        )
        return Template(
            "exhibitors/directory.html",
            context={
                "conference": conference,
                "exhibitors": [entry(row, language) for row in shown],
                "total": len(rows),
                "topics": topic_labels(present),
                "topic": next((t for t in topic_labels(present) if t["value"] == chosen), None),
                "unknown_topic": chosen is not None and chosen not in present,
                "plan": ET.tostring(plan, encoding="unicode"),
                "plan_width": plan.get("width"),
            },
            media_type=MediaType.HTML,
        )
