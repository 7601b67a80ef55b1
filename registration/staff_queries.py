"""SQL for what organisers see of registrations: lists, search, counts, the needs summary.

Every statement is fixed text; values (filters, the search pattern, the cursor) are always
parameters. Needs are special-category data (GDPR Art. 9): they are read only for
registrations that hold the matching consent, so a missing consent shows as no needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from service.db import in_batches

# $1 is always the conference. The waiting-list place is the 1-based rank among everyone
# waiting for this conference, whatever the filters of the list.
_PLACES = """
    WITH places AS (
        SELECT id, row_number() OVER (ORDER BY waitlist_position) AS place
        FROM registrations WHERE conference_id = $1 AND status = 'waitlisted'
    )
"""
_ITEMS = (
    _PLACES
    + """
    SELECT r.id, r.name, r.email, r.organisation, r.category, r.language, r.status,
           p.place AS waitlist_position, r.created_at, r.confirmed_at, r.cancelled_at,
           CASE WHEN 'special_category' = ANY (c.kinds) THEN r.needs ELSE '{}'::jsonb END
               AS needs,
           coalesce(c.kinds, '{}') AS consents
    FROM registrations r
    LEFT JOIN places p ON p.id = r.id
    LEFT JOIN LATERAL (
        SELECT array_agg(kind ORDER BY kind) AS kinds FROM consents
        WHERE registration_id = r.id
    ) c ON true
    WHERE r.conference_id = $1
"""
)
# The export's columns: no needs (never exported, so not read and decoded 100,000 times) and
# the photo consent as a flag.
_EXPORTED = (
    _PLACES
    + """
    SELECT r.id, r.name, r.email, r.organisation, r.category, r.language, r.status,
           p.place AS waitlist_position, r.created_at, r.confirmed_at,
           EXISTS (SELECT 1 FROM consents c WHERE c.registration_id = r.id AND c.kind = 'photos')
               AS photos
    FROM registrations r
    LEFT JOIN places p ON p.id = r.id
    WHERE r.conference_id = $1
"""
)

# $2 status, $3 category, $4 search pattern (already a LIKE pattern, or NULL for all).
_FILTERS = """
      AND ($2::text IS NULL OR r.status = $2)
      AND ($3::text IS NULL OR r.category = $3)
      AND ($4::text IS NULL
           OR r.name ILIKE $4 ESCAPE '\\'
           OR r.email ILIKE $4 ESCAPE '\\'
           OR r.organisation ILIKE $4 ESCAPE '\\')
"""


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    category: str | None = None
    q: str | None = None

    def pattern(self) -> str | None:
        """The search text as an ILIKE pattern that matches it literally anywhere."""
        if not self.q:
            return None
        escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"

    def args(self) -> tuple[str | None, str | None, str | None]:
        return self.status, self.category, self.pattern()


@asynccontextmanager
async def _planned_for(db: asyncpg.Connection, filters: Filters) -> AsyncIterator[None]:
    """A search is planned for its own text. asyncpg prepares each statement once per
    connection, and after five runs PostgreSQL may keep one generic plan for it: one that
    cannot know the pattern, so it never uses the trigram indexes (migration 0009) and reads
    the conference's registrations in id order through three ILIKEs — 135–480 ms instead of
    15–40 ms for an e-mail address at 100,000 registrations. SET LOCAL ends with the
    transaction: nothing stays on the pooled connection."""
    if not filters.q:
        yield
        return
    async with db.transaction():
        await db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


SEARCH_SET = 1000  # a search with at most this many matches is paged from their ids


async def page(
    db: asyncpg.Connection, conference_id: int, filters: Filters, after: int, limit: int
) -> tuple[list[asyncpg.Record], int | None]:
    """One page in id order after `after`, and the cursor of the next page (None: last)."""
    if filters.q:
        rows, next_id, _found = await search_page(
            db, conference_id, filters, after, limit, up_to=SEARCH_SET + 1
        )
        return rows, next_id
    return await _walk(db, conference_id, filters, after, limit)


async def search_page(
    db: asyncpg.Connection,
    conference_id: int,
    filters: Filters,
    after: int,
    limit: int,
    *,
    up_to: int,
) -> tuple[list[asyncpg.Record], int | None, int]:
    """A page of a search, its next cursor, and how many match, counted only `up_to`.

    The ids of up to `up_to` matches come first: from the trigram indexes when few match, or
    from a scan that stops early when nearly everyone does ("e" at a large conference), so
    the count never costs a pass over all matches. When they are all of the matches, the
    page is taken from them (a narrow search, e.g. "Krüger 4" at 100,000 registrations: 340
    matches, the first 51 spread over 41,000 ids; walking the list in id order to find them
    took 56–115 ms, this takes 15–20 ms). With more matches, they are dense in the list and
    the walk in id order finds a page quickly."""
    ids = await _matching_ids(db, conference_id, filters, up_to)
    if len(ids) >= up_to:
        rows, next_id = await _walk(db, conference_id, filters, after, limit)
        return rows, next_id, len(ids)
    later = sorted(i for i in ids if i > after)
    rows = await db.fetch(
        _ITEMS + " AND r.id = ANY($2::bigint[]) ORDER BY r.id", conference_id, later[:limit]
    )
    return rows, later[limit - 1] if len(later) > limit else None, len(ids)


async def _matching_ids(
    db: asyncpg.Connection, conference_id: int, filters: Filters, up_to: int
) -> list[int]:
    async with _planned_for(db, filters):
        rows = await db.fetch(
            "SELECT r.id FROM registrations r WHERE r.conference_id = $1" + _FILTERS + " LIMIT $5",
            conference_id,
            *filters.args(),
            up_to,
        )
    return [r["id"] for r in rows]


async def _walk(
    db: asyncpg.Connection, conference_id: int, filters: Filters, after: int, limit: int
) -> tuple[list[asyncpg.Record], int | None]:
    """The list in id order after `after`, filtered row by row."""
    async with _planned_for(db, filters):
        rows = await db.fetch(
            _ITEMS + _FILTERS + " AND r.id > $5 ORDER BY r.id LIMIT $6",
            conference_id,
            *filters.args(),
            after,
            limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more else None


def all_matching(
    db: asyncpg.Connection, conference_id: int, filters: Filters
) -> AsyncIterator[list[asyncpg.Record]]:
    """For the export: every match in id order, a batch at a time from a server-side cursor
    (a search planned for its text, as in `_planned_for`)."""
    return in_batches(
        db,
        _EXPORTED + _FILTERS + " ORDER BY r.id",
        conference_id,
        *filters.args(),
        setup=("SET LOCAL plan_cache_mode = force_custom_plan",) if filters.q else (),
    )


async def one(
    db: asyncpg.Connection, conference_id: int, registration_id: int
) -> asyncpg.Record | None:
    """The registration, if it belongs to this conference."""
    return await db.fetchrow(_ITEMS + " AND r.id = $2", conference_id, registration_id)


async def by_status_and_category(
    db: asyncpg.Connection, conference_id: int
) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT category, status, count(*) AS n FROM registrations WHERE conference_id = $1 "
        "GROUP BY category, status",
        conference_id,
    )


async def needs(db: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """The needs for planning in one statement over the people counted — those holding a place
    or waiting for one who consented to the storage of their needs (a statement per figure
    read them four times, 50–75 ms apiece at 100,000 registrations) — as rows (part, item, n):
    'with_needs' and 'notes' (how many stated any need, how many wrote notes; item NULL),
    'accessibility' and 'dietary' (how many chose each item of that list), 'interpretation'
    (languages asked for, as typed, case and surrounding spaces ignored; most asked first)."""
    return await db.fetch(
        """
        WITH counted AS MATERIALIZED (
            SELECT r.id, r.needs FROM registrations r
            WHERE r.conference_id = $1 AND r.status IN ('confirmed', 'waitlisted')
              -- Only stated needs count; this also lets registrations_with_needs serve.
              AND r.needs <> '{}'::jsonb
              AND EXISTS (SELECT 1 FROM consents c
                          WHERE c.registration_id = r.id AND c.kind = 'special_category')
        ), listed AS (
            SELECT key AS part, item, count(DISTINCT id) AS n
            FROM counted, unnest(ARRAY['accessibility', 'dietary']) AS key,
                 jsonb_array_elements_text(
                     CASE WHEN jsonb_typeof(needs -> key) = 'array' THEN needs -> key
                          ELSE '[]' END) AS item
            GROUP BY key, item
        ), interpretation AS (
            SELECT 'interpretation' AS part, min(btrim(needs ->> 'interpretation')) AS item,
                   count(*) AS n
            FROM counted WHERE btrim(coalesce(needs ->> 'interpretation', '')) <> ''
            GROUP BY lower(btrim(needs ->> 'interpretation'))
        )
        SELECT part, item, n FROM (
            SELECT 'with_needs' AS part, NULL AS item, count(*) AS n FROM counted
            UNION ALL
            SELECT 'notes', NULL, count(*) FROM counted
            WHERE btrim(coalesce(needs ->> 'notes', '')) <> ''
            UNION ALL SELECT * FROM listed
            UNION ALL SELECT * FROM interpretation
        ) parts
        ORDER BY part, n DESC, item
        """,
        conference_id,
    )
