"""Login attempts limited per e-mail address, in addition to the limit per client address.

A password guesser spread over many addresses (a botnet, a proxy pool) meets the same
account every time; this counts there. The attempt is taken before the password is checked,
in one statement, so that concurrent requests in any number of processes cannot let more
than `ATTEMPTS` through in a window. Every address submitted is counted, known or not, so
the answer says nothing about which accounts exist. A successful login starts afresh.

The `ATTEMPTS`th attempt starts the window anew: after ten failures the account pauses for
the whole quarter of an hour, however slowly the ten came. Codes of two-factor login
(service.two_factor) count here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.i18n import gettext as _
from service.i18n import ngettext

ATTEMPTS = 10
WINDOW_SECONDS = 15 * 60
_STALE_ROWS_PER_ATTEMPT = 20  # each attempt clears a few expired windows of other addresses

_TAKE = """
WITH stale AS (
    DELETE FROM login_attempts
    WHERE email IN (
        SELECT email FROM login_attempts
        WHERE window_started_at <= now() - make_interval(secs => $2) AND email <> $1
        ORDER BY window_started_at
        LIMIT $4
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO login_attempts AS a (email) VALUES ($1)
ON CONFLICT (email) DO UPDATE SET
    attempts = CASE WHEN a.window_started_at <= now() - make_interval(secs => $2) THEN 1
                    ELSE least(a.attempts + 1, $3 + 1) END,
    window_started_at = CASE WHEN a.window_started_at <= now() - make_interval(secs => $2)
                               OR a.attempts + 1 = $3
                             THEN now() ELSE a.window_started_at END
RETURNING a.attempts <= $3 AS allowed,
          -- at most the window: an attempt that waited on the row for the one that started the
          -- window anew has an earlier now()
          least(ceil(extract(epoch FROM a.window_started_at + make_interval(secs => $2) - now())),
                $2)::int AS retry_after
"""


@dataclass(frozen=True)
class Attempt:
    allowed: bool
    retry_after: int  # seconds until the window ends


def _key(email: str) -> str:
    return email.strip().lower()


async def take_attempt(db: asyncpg.Connection, email: str) -> Attempt:
    """Counts one login attempt for `email`; not allowed once the window's attempts are used.
    Run outside a transaction: the count must be visible to other processes at once."""
    row = await db.fetchrow(
        _TAKE, _key(email), float(WINDOW_SECONDS), ATTEMPTS, _STALE_ROWS_PER_ATTEMPT
    )
    return Attempt(row["allowed"], max(row["retry_after"], 1))


async def forget_attempts(db: asyncpg.Connection, email: str) -> None:
    """After a successful login the account's next typo does not count against old ones."""
    await db.execute("DELETE FROM login_attempts WHERE email = $1", _key(email))


def paused_message(retry_after: int) -> str:
    """What a person is told when the account pauses: why, for how long, and when to retry."""
    minutes = max(1, -(-retry_after // 60))
    why = _(
        "Too many failed logins with this e-mail address: after %(attempts)s failed attempts, "
        "logging in to this account is paused for %(window)s minutes.",
        attempts=ATTEMPTS,
        window=WINDOW_SECONDS // 60,
    )
    when = ngettext(
        "Please try again in %(num)d minute.", "Please try again in %(num)d minutes.", minutes
    )
    return f"{why} {when}"
