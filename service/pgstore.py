"""A Litestar `Store` in PostgreSQL, so that every app process shares it (e.g. rate limits).

Litestar's own stores keep data in process memory, a file or Redis; PostgreSQL is already
the one shared thing here.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from litestar.stores.base import NamespacedStore


class PostgresStore(NamespacedStore):
    def __init__(self, namespace: str = "default", root: PostgresStore | None = None) -> None:
        self.namespace = namespace
        self.pool: asyncpg.Pool | None = None  # set on the root store when the app's pool opens
        self._root = root or self

    def with_namespace(self, namespace: str) -> PostgresStore:
        return PostgresStore(f"{self.namespace}:{namespace}", root=self._root)

    def _pool(self) -> asyncpg.Pool:
        if self._root.pool is None:
            raise RuntimeError("PostgresStore used before the database pool was opened")
        return self._root.pool

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        if isinstance(value, str):
            value = value.encode()
        seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
        await self._pool().execute(
            """
            INSERT INTO kv_store (namespace, key, value, expires_at)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4))
            ON CONFLICT (namespace, key)
            DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
            """,
            self.namespace,
            key,
            value,
            seconds,
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        seconds = renew_for.total_seconds() if isinstance(renew_for, timedelta) else renew_for
        return await self._pool().fetchval(
            """
            UPDATE kv_store
            SET expires_at = CASE WHEN $3::float8 IS NULL OR expires_at IS NULL THEN expires_at
                                  ELSE now() + make_interval(secs => $3) END
            WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > now())
            RETURNING value
            """,
            self.namespace,
            key,
            seconds,
        )

    async def delete(self, key: str) -> None:
        await self._pool().execute(
            "DELETE FROM kv_store WHERE namespace = $1 AND key = $2", self.namespace, key
        )

    async def delete_all(self) -> None:
        await self._pool().execute("DELETE FROM kv_store WHERE namespace = $1", self.namespace)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        seconds = await self._pool().fetchval(
            """
            SELECT extract(epoch FROM expires_at - now())::int FROM kv_store
            WHERE namespace = $1 AND key = $2 AND expires_at > now()
            """,
            self.namespace,
            key,
        )
        return seconds
