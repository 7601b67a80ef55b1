"""Every SQL statement of service.team: staff accounts as the team list and the admin see them,
their conferences, and the links of invitation and password-reset mails (staff_links).

E-mail addresses arrive here trimmed and lower-cased by service.team.logic.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

# A member as the list, the API and the edit page show them: status from the row, the
# conferences as slugs and titles (empty with all_conferences), the newest login from the audit
# log (one probe of migration 0022's partial index).
_MEMBER = """
SELECT s.id, s.email, s.name, s.role, s.all_conferences, s.created_at, s.disabled,
       CASE WHEN s.disabled THEN 'deactivated'
            WHEN s.password_hash IS NULL THEN 'invited'
            ELSE 'active' END AS status,
       ARRAY(SELECT c.slug FROM staff_conferences sc JOIN conferences c ON c.id = sc.conference_id
              WHERE sc.staff_id = s.id ORDER BY c.slug) AS conferences,
       ARRAY(SELECT c.title FROM staff_conferences sc JOIN conferences c ON c.id = sc.conference_id
              WHERE sc.staff_id = s.id ORDER BY c.slug) AS conference_titles,
       (SELECT a.at FROM audit_log a
         WHERE a.actor_staff_id = s.id AND a.action = 'staff.login'
         ORDER BY a.id DESC LIMIT 1) AS last_login_at
FROM staff s
"""


async def page(db: asyncpg.Connection, after: int, limit: int) -> list[asyncpg.Record]:
    """Up to `limit` members with an id above `after`, by id."""
    return await db.fetch(_MEMBER + "WHERE s.id > $1 ORDER BY s.id LIMIT $2", after, limit)


async def member(db: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_MEMBER + "WHERE s.id = $1", staff_id)


async def conferences_by_slug(db: asyncpg.Connection, slugs: list[str]) -> list[asyncpg.Record]:
    return await db.fetch("SELECT id, slug FROM conferences WHERE slug = ANY($1::text[])", slugs)


async def conference_choices(db: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every conference (drafts too), newest first, for the form's choice of conferences."""
    return await db.fetch(
        "SELECT slug, title, starts_at, timezone, published FROM conferences "
        "ORDER BY starts_at DESC, slug"
    )


# ── changing accounts ───────────────────────────────────────────────────────────────────────


async def insert_invited(
    db: asyncpg.Connection,
    *,
    email: str,
    name: str,
    role: str,
    all_conferences: bool,
    invited_by: int | None,
) -> int:
    """An account without a password. Raises asyncpg.UniqueViolationError for a known address."""
    return await db.fetchval(
        "INSERT INTO staff (email, name, role, all_conferences, invited_by) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        email,
        name,
        role,
        all_conferences,
        invited_by,
    )


async def set_conferences(db: asyncpg.Connection, staff_id: int, conference_ids: list[int]) -> None:
    await db.execute("DELETE FROM staff_conferences WHERE staff_id = $1", staff_id)
    await db.execute(
        "INSERT INTO staff_conferences (staff_id, conference_id) "
        "SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
        staff_id,
        conference_ids,
    )


async def lock_account_changes(db: asyncpg.Connection) -> None:
    """Changes of accounts take turns (until the transaction ends), so that two admins each
    demoting the other cannot both count the other as the remaining admin."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtext('tagung staff accounts'))")


async def for_update(db: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    """The account, locked until the transaction ends, with its conference ids."""
    return await db.fetchrow(
        """
        SELECT id, email, name, role, disabled, all_conferences,
               password_hash IS NOT NULL AS has_password,
               ARRAY(SELECT conference_id FROM staff_conferences WHERE staff_id = staff.id
                      ORDER BY conference_id) AS conference_ids
        FROM staff WHERE id = $1 FOR UPDATE
        """,
        staff_id,
    )


async def other_active_admins(db: asyncpg.Connection, staff_id: int) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM staff WHERE role = 'admin' AND NOT disabled "
        "AND password_hash IS NOT NULL AND id <> $1",
        staff_id,
    )


async def update_account(
    db: asyncpg.Connection,
    staff_id: int,
    *,
    name: str,
    role: str,
    disabled: bool,
    all_conferences: bool,
) -> None:
    await db.execute(
        "UPDATE staff SET name = $2, role = $3, disabled = $4, all_conferences = $5 WHERE id = $1",
        staff_id,
        name,
        role,
        disabled,
        all_conferences,
    )


async def end_sessions_and_tokens(db: asyncpg.Connection, staff_id: int) -> None:
    """Every session ends and every API token is revoked (a reactivated account starts with
    none)."""
    await db.execute(
        "UPDATE staff SET session_generation = session_generation + 1 WHERE id = $1", staff_id
    )
    await db.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL",
        staff_id,
    )


# ── passwords ───────────────────────────────────────────────────────────────────────────────


async def password_row(db: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT email, name, password_hash FROM staff WHERE id = $1 AND NOT disabled", staff_id
    )


async def set_password(
    db: asyncpg.Connection, staff_id: int, password_hash: str, *, first: bool = False
) -> int | None:
    """The new hash, and every session ends; returns the new session generation, or None when
    the account is deactivated (or, with `first`, already has a password)."""
    return await db.fetchval(
        "UPDATE staff SET password_hash = $2, session_generation = session_generation + 1 "
        "WHERE id = $1 AND NOT disabled AND (NOT $3 OR password_hash IS NULL) "
        "RETURNING session_generation",
        staff_id,
        password_hash,
        first,
    )


async def active_by_email(db: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """An account that can log in: not deactivated, with a password."""
    return await db.fetchrow(
        "SELECT id, email, name FROM staff "
        "WHERE email = $1 AND NOT disabled AND password_hash IS NOT NULL",
        email,
    )


# ── links (invitation, password reset) ──────────────────────────────────────────────────────


async def retire_links(db: asyncpg.Connection, staff_id: int, purpose: str) -> None:
    """Unused links of this purpose stop working: only the newest link is good."""
    await db.execute(
        "UPDATE staff_links SET expires_at = now() "
        "WHERE staff_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
        staff_id,
        purpose,
    )


async def insert_link(
    db: asyncpg.Connection,
    staff_id: int,
    purpose: str,
    salt: bytes,
    token_hash: bytes,
    valid_for: timedelta,
) -> int:
    return await db.fetchval(
        "INSERT INTO staff_links (staff_id, purpose, salt, token_hash, expires_at) "
        "VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING id",
        staff_id,
        purpose,
        salt,
        token_hash,
        valid_for,
    )


# What deciding on a link needs: the link's state and its account's.
_LINK = """
SELECT l.id, l.staff_id, l.purpose, l.salt, l.expires_at,
       l.used_at IS NOT NULL AS used, l.expires_at <= now() AS expired,
       s.email, s.name, s.disabled, s.password_hash IS NOT NULL AS has_password,
       coalesce(inviter.name, '') AS inviter_name, coalesce(inviter.email, '') AS inviter_email
FROM staff_links l
JOIN staff s ON s.id = l.staff_id
LEFT JOIN staff inviter ON inviter.id = s.invited_by
"""


async def link_by_hash(
    db: asyncpg.Connection, token_hash: bytes, purpose: str
) -> asyncpg.Record | None:
    return await db.fetchrow(
        _LINK + "WHERE l.token_hash = $1 AND l.purpose = $2", token_hash, purpose
    )


async def link_by_id(db: asyncpg.Connection, link_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_LINK + "WHERE l.id = $1", link_id)


async def use_link(db: asyncpg.Connection, link_id: int) -> int | None:
    """Marks a live link used; its account's id, or None when it was used or ran out first
    (a second, concurrent use waits for the first and then finds it used)."""
    return await db.fetchval(
        "UPDATE staff_links SET used_at = now() "
        "WHERE id = $1 AND used_at IS NULL AND expires_at > now() RETURNING staff_id",
        link_id,
    )
