"""Data protection (GDPR Art. 15, 17, 20): one person's data as a download, and making
registrations anonymous once their conference is over.

Anonymous means: name, e-mail address, organisation and needs are gone, the consents and the
mails about the person are deleted; what stays is a row with category and status, so that the
report can still count who came.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from registration import queries
from registration.views import forum_signups
from service import outbox


async def export(db: asyncpg.Connection, registration: asyncpg.Record) -> dict[str, Any]:
    conference = await db.fetchrow(
        "SELECT slug, title, starts_at FROM conferences WHERE id = $1",
        registration["conference_id"],
    )
    mails = await db.fetch(
        "SELECT kind, status, created_at, sent_at FROM outbox "
        "WHERE kind LIKE 'registration.%' AND ref_id = $1 ORDER BY id",
        registration["id"],
    )
    return {
        "conference": dict(conference),
        "registration": {
            key: registration[key]
            for key in (
                "name",
                "email",
                "organisation",
                "category",
                "language",
                "needs",
                "status",
                "created_at",
                "confirmed_at",
                "cancelled_at",
            )
        },
        "consents": [dict(c) for c in await queries.consents(db, registration["id"])],
        "forums": msgspec.to_builtins(await forum_signups(db, registration["id"])),
        "emails": [dict(m) for m in mails],
    }


async def anonymise_ended(db: asyncpg.Connection, days_after_end: int) -> int:
    """Makes every registration of conferences that ended `days_after_end` days ago or
    earlier anonymous; returns how many. Safe to run again (and from a daily timer)."""
    async with db.transaction():
        ids = [
            row["id"]
            for row in await db.fetch(
                """
                UPDATE registrations r
                SET name = '–', email = 'anonymised-' || r.id || '@invalid', organisation = '',
                    needs = '{}', anonymised_at = now(), updated_at = now()
                FROM conferences c
                WHERE c.id = r.conference_id AND r.anonymised_at IS NULL
                  AND c.ends_at <= now() - make_interval(days => $1)
                RETURNING r.id
                """,
                days_after_end,
            )
        ]
        if ids:
            await db.execute("DELETE FROM consents WHERE registration_id = ANY($1)", ids)
            await outbox.forget(db, "registration.", ids)
    return len(ids)
