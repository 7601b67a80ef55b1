"""GET /health: is this process up and can it reach the database?"""

from __future__ import annotations

import asyncpg
from litestar import Router, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from service.db import UNAVAILABLE_ERRORS
from service.i18n import gettext as _


@get("/health", summary="Liveness and database check", tags=["service"])
async def health(state: State) -> dict[str, str]:
    pool: asyncpg.Pool = state.pool
    try:
        async with pool.acquire(timeout=state.settings.db_connect_timeout) as db:
            await db.fetchval("SELECT 1")
    except UNAVAILABLE_ERRORS as exc:
        raise HTTPException(
            status_code=503, detail=_("The database cannot be reached right now.")
        ) from exc
    return {"status": "ok"}


router = Router(path="/", route_handlers=[health])
