"""Every SQL statement of the shell about conferences and their programme: lists, the
lookup by slug, creation, changes, the demo's existence check and the CLI's deletion of a
demo that failed to load. The domains read the conference rows they need with statements in
their own queries.py."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

CONFERENCE_FIELDS = (
    "slug",
    "title",
    "description",
    "venue",
    "address",
    "starts_at",
    "ends_at",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
    "languages",
    "organiser_name",
    "organiser_email",
    "published",
)
ITEM_FIELDS = ("title", "kind", "starts_at", "ends_at", "room")

_SELECT = """
    SELECT c.*, c.capacity - c.seats_taken AS seats_left,
           now() >= c.registration_opens_at AND now() < c.registration_closes_at
               AS registration_open
    FROM conferences c
"""


async def list_published(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(_SELECT + " WHERE c.published ORDER BY c.starts_at, c.id")


async def list_all(
    db: asyncpg.Connection, only: Collection[int] | None = None
) -> list[asyncpg.Record]:
    """Every conference, drafts too; `only` these ids (a limited account's), or all (None)."""
    return await db.fetch(
        _SELECT + " WHERE $1::bigint[] IS NULL OR c.id = ANY($1) ORDER BY c.starts_at DESC, c.id",
        None if only is None else list(only),
    )


async def by_slug(
    db: asyncpg.Connection, slug: str, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await db.fetchrow(_SELECT + " WHERE c.slug = $1" + lock, slug)


async def insert(db: asyncpg.Connection, values: dict[str, Any]) -> int:
    columns = [f for f in CONFERENCE_FIELDS if f in values]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await db.fetchval(
        f"INSERT INTO conferences ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
        *(values[c] for c in columns),
    )


async def update(db: asyncpg.Connection, conference_id: int, values: dict[str, Any]) -> None:
    columns = [f for f in CONFERENCE_FIELDS if f in values]
    if not columns:
        return
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=2))
    await db.execute(
        f"UPDATE conferences SET {assignments}, updated_at = now() WHERE id = $1",
        conference_id,
        *(values[c] for c in columns),
    )


async def programme(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM programme_items WHERE conference_id = $1 ORDER BY starts_at, id",
        conference_id,
    )


async def programme_bounds(db: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT min(starts_at) AS first, max(ends_at) AS last FROM programme_items "
        "WHERE conference_id = $1",
        conference_id,
    )


async def item(db: asyncpg.Connection, conference_id: int, item_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM programme_items WHERE conference_id = $1 AND id = $2",
        conference_id,
        item_id,
    )


async def insert_item(db: asyncpg.Connection, conference_id: int, values: dict[str, Any]) -> int:
    return await db.fetchval(
        "INSERT INTO programme_items (conference_id, title, kind, starts_at, ends_at, room) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        conference_id,
        *(values[f] for f in ITEM_FIELDS),
    )


async def update_item(db: asyncpg.Connection, item_id: int, values: dict[str, Any]) -> None:
    await db.execute(
        "UPDATE programme_items SET title = $2, kind = $3, starts_at = $4, ends_at = $5, "
        "room = $6 WHERE id = $1",
        item_id,
        *(values[f] for f in ITEM_FIELDS),
    )


async def delete_item(db: asyncpg.Connection, item_id: int) -> None:
    await db.execute("DELETE FROM programme_items WHERE id = $1", item_id)


async def exists(db: asyncpg.Connection, slug: str) -> bool:
    """Whether a conference (published or draft) has this slug."""
    return bool(await db.fetchval("SELECT 1 FROM conferences WHERE slug = $1", slug))


async def delete_by_slug(db: asyncpg.Connection, slug: str) -> None:
    """The conference and, by the foreign keys' ON DELETE CASCADE, everything of it."""
    await db.execute("DELETE FROM conferences WHERE slug = $1", slug)
