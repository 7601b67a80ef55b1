"""The audit log as pages: a conference's for its organisers, the whole installation's for
admins. A filter form (kind of action, actor, period), a table in words, pages of entries, and
the filtered view as CSV (the API's download, recorded as export.downloaded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, MediaType, Request, get
from litestar.response import Template

from service.audit import queries, views
from service.audit.api import NOT_CACHED
from service.audit.views import DEFAULT_LIMIT, MAX_LIMIT, Query, read_filters
from service.auth import requires
from service.conferences.lookups import STAFF, ConferenceRow
from service.db import DB
from service.i18n import gettext as _
from service.validation import BIGINT


def _number(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A page's cursor or size, leniently: anything else is the default (a page never fails
    on a link someone shortened)."""
    raw = (params.get(name) or "").strip()
    return int(raw) if raw.isdigit() and low <= int(raw) <= high else default


def _query_string(query: Query, **extra: Any) -> str:
    values = {**vars(query), **extra}
    text = urlencode({k: v for k, v in values.items() if v not in (None, "", 0)})
    return f"?{text}" if text else ""


async def _page(
    request: Request, db: asyncpg.Connection, conference: asyncpg.Record | None
) -> Template:
    params = request.query_params
    query = Query(
        *(str(params.get(name) or "")[:200] for name in ("action", "actor", "since", "until"))
    )
    if conference is None:
        filters, errors = read_filters(query, None)
        here, csv_base = "/staff/audit", "/api/v1/audit.csv"
    else:
        filters, errors = read_filters(query, conference["id"], conference["timezone"])
        here = f"/staff/conferences/{conference['slug']}/audit"
        csv_base = f"/api/v1/conferences/{conference['slug']}/audit.csv"
    after = _number(params, "after", 0, 0, BIGINT)
    limit = _number(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    rows, next_id = [], None
    if not errors:
        rows, next_id = await queries.page(db, filters, after, limit)
    size = limit if limit != DEFAULT_LIMIT else None
    entries = [
        {
            "at": views.local_time(row),
            "conference": row["conference_slug"],
            "actor": views.actor_text(row),
            "action": row["action"],
            "subject": views.subject_text(row),
            "details": views.details_text(row["details"]),
        }
        for row in rows
    ]
    return Template(
        "staff/audit.html",
        context={
            "conference": conference,
            "entries": entries,
            "query": query,
            "errors": errors,
            "groups": views.action_groups(),
            "actions": views.action_names(),
            "after": after,
            "next_url": f"{here}{_query_string(query, after=next_id, limit=size)}"
            if next_id
            else None,
            "first_url": f"{here}{_query_string(query, limit=size)}" if after else None,
            "here": here,
            "csv_url": f"{csv_base}{_query_string(query)}",
            "field_labels": {
                "action": _("What"),
                "actor": _("Who"),
                "since": _("From"),
                "until": _("Until"),
            },
        },
        status_code=400 if errors else 200,
        media_type=MediaType.HTML,
    )


class ConferenceAuditPage(Controller):
    path = "/staff/conferences/{slug:str}"
    guards = [requires("organiser")]
    include_in_schema = False
    cache_control = NOT_CACHED
    dependencies = STAFF

    @get("/audit")
    async def conference_audit(
        self, request: Request, db: DB, conference: ConferenceRow
    ) -> Template:
        return await _page(request, db, conference)


class InstallationAuditPage(Controller):
    path = "/staff"
    guards = [requires("admin")]
    include_in_schema = False
    cache_control = NOT_CACHED

    @get("/audit")
    async def installation_audit(self, request: Request, db: DB) -> Template:
        return await _page(request, db, None)


CONTROLLERS = [ConferenceAuditPage, InstallationAuditPage]
