"""A share of mails per recipient address and hour, for the mails that someone other than the
recipient can make us send: a registration's confirmation link and its re-sends, an exhibitor
request's, a stand-staff pass and its withdrawal. Each path has its own limit per client, but
together, and from many clients, they could fill a stranger's mailbox with a text of the
sender's choosing (the name field).

The count is taken and checked in one statement in PostgreSQL, inside the transaction that
writes the mail, so it holds across all processes, and a request that rolls back gives its
share back. Beyond the share the change still happens and the caller answers as always; only
the mail is left out, so the answer reveals nothing. The window is the clock hour: at its turn
an address may get up to twice the share within a few minutes, never more.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import asyncpg

from service import outbox

log = logging.getLogger("tagung.mail_quota")

PER_HOUR = 5

# Counts this mail and returns the count, the first mail of an hour making the row. Rows of
# past hours go in the same statement, a few at a time, skipping those another transaction
# holds, so that pruning never makes anyone wait. now() is the transaction's start, as the
# outbox row's created_at is.
_TAKE = """
WITH pruned AS (
    DELETE FROM mail_quota WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM mail_quota WHERE hour < date_trunc('hour', now())
         LIMIT 100 FOR UPDATE SKIP LOCKED))
)
INSERT INTO mail_quota AS q (address_hash, hour) VALUES ($1, date_trunc('hour', now()))
ON CONFLICT (address_hash, hour) DO UPDATE SET sent = q.sent + 1
RETURNING sent
"""


def address_hash(address: str) -> bytes:
    """The address as stored: a hash of its normalised form (case does not make a new one)."""
    return hashlib.sha256(b"tagung-mail-quota:" + address.strip().lower().encode()).digest()


async def take(db: asyncpg.Connection, address: str) -> bool:
    """Whether this address may get one more mail this hour (and counts it if so)."""
    if not db.is_in_transaction():
        raise RuntimeError("take() belongs inside the transaction that writes the mail")
    return await db.fetchval(_TAKE, address_hash(address)) <= PER_HOUR


async def enqueue(
    db: asyncpg.Connection,
    kind: str,
    *,
    recipient: str,
    language: str,
    ref_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """outbox.enqueue within the address's share; beyond it nothing is written (None)."""
    if not await take(db, recipient):
        # No address in the log: the kind and what it was about are enough to explain it.
        log.info("mail %s about %s left out: its address had %s this hour", kind, ref_id, PER_HOUR)
        return None
    return await outbox.enqueue(
        db, kind, recipient=recipient, language=language, ref_id=ref_id, payload=payload
    )
