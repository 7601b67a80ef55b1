"""Live updates from PostgreSQL's NOTIFY: one listening connection per process, many streams.

A dashboard's event stream used to LISTEN over a connection of its own, so open dashboards
took database connections without bound and, at about 85, every other request got 503. Now
each process has one `LiveHub`: it opens its listening connection when the first stream
subscribes, closes it when the last one ends (and at shutdown), and hands each NOTIFY to the
subscriptions of that channel and payload. A subscription holds one pending flag, not a
queue, so a slow reader gets one update for a burst and memory does not grow with it.

Streams are capped per process (memory and sockets) and per staff account. The account's cap
holds across processes: each open stream holds one of the account's MAX_STREAMS_PER_ACCOUNT
session advisory locks on its process's listening connection, so PostgreSQL counts them, and
they end with the connection. When that connection is lost (a database restart), every stream
of the process ends and the browser's EventSource connects again, which reconnects the hub.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send

from service.db import UNAVAILABLE_ERRORS
from service.i18n import gettext as _

log = logging.getLogger(__name__)

MAX_STREAMS = 50  # per process
MAX_STREAMS_PER_ACCOUNT = 5  # across all processes
RETRY_AFTER_SECONDS = 60
RECONNECT_PAUSE_SECONDS = 1.0
# Monitoring (and tests) find the listening connection by this name; the entrance dashboard is
# the only kind of stream so far.
APPLICATION_NAME = "tagung entrance events"
# Where the request keeps its subscription until everything below it is done (release_stream).
_SCOPE_KEY = "tagung.live"


@dataclass(eq=False)
class Subscription:
    channel: str
    payload: str  # the NOTIFY payload this stream wants
    account: int | None
    generation: int  # of the listening connection it was admitted on
    slot: int | None = None  # the account's advisory lock it holds
    lost: bool = False
    done: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, seconds: float) -> Literal["changed", "idle", "lost"]:
        """What happened since the last call: a NOTIFY (any number of them count as one),
        nothing within `seconds`, or the end of the listening connection."""
        if not self._changed.is_set():
            try:
                await asyncio.wait_for(self._changed.wait(), seconds)
            except TimeoutError:
                return "idle"
        self._changed.clear()
        return "lost" if self.lost else "changed"

    def _wake(self) -> None:
        self._changed.set()


def _lock_name(account: int, slot: int) -> str:
    return f"tagung live stream {account}/{slot}"


class LiveHub:
    def __init__(
        self,
        database_url: str,
        *,
        connect_timeout: float = 3.0,
        max_streams: int = MAX_STREAMS,
        max_per_account: int = MAX_STREAMS_PER_ACCOUNT,
    ) -> None:
        self.database_url = database_url
        self.connect_timeout = connect_timeout
        self.max_streams = max_streams
        self.max_per_account = max_per_account
        self._lock = asyncio.Lock()  # one statement at a time on the listening connection
        self._conn: asyncpg.Connection | None = None
        self._generation = 0
        self._listening: set[str] = set()
        self._subscriptions: dict[tuple[str, str], set[Subscription]] = defaultdict(set)
        self._count = 0
        self._held: dict[int, set[int]] = defaultdict(set)  # account -> slots, this connection
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._failed_at = float("-inf")

    @property
    def streams(self) -> int:
        return self._count

    async def subscribe(self, channel: str, payload: str, account: int | None) -> Subscription:
        """A place for one more stream, or TooManyRequestsException (429, Retry-After).
        Raises one of UNAVAILABLE_ERRORS when the database cannot be reached."""
        # Shielded: a request cancelled half-way must not leave an account lock behind.
        admission = asyncio.get_running_loop().create_task(self._admit(channel, payload, account))
        try:
            return await asyncio.shield(admission)
        except asyncio.CancelledError:
            admission.add_done_callback(self._leave_if_admitted)
            raise

    def _leave_if_admitted(self, admission: asyncio.Task[Subscription]) -> None:
        if not admission.cancelled() and admission.exception() is None:
            self.leave(admission.result())

    async def _admit(self, channel: str, payload: str, account: int | None) -> Subscription:
        async with self._lock:
            if self._closed:
                raise ConnectionError("the live hub is closed")
            if self._count >= self.max_streams:
                raise _too_many(
                    _(
                        "Too many live dashboards are open on this server right now. The "
                        "numbers on the page do not update by themselves; reload the page "
                        "for the latest ones, or try again in a minute."
                    )
                )
            conn = await self._connection()
            try:
                if channel not in self._listening:
                    await conn.add_listener(channel, self._on_notify)
                    self._listening.add(channel)
                slot = None if account is None else await self._take_slot(conn, account)
            except UNAVAILABLE_ERRORS:
                self._lose(conn)
                raise
            if account is not None and slot is None:
                raise _too_many(
                    _(
                        "Your account already has %(limit)s live dashboards open. Close one of "
                        "them, or reload the page for the latest numbers.",
                        limit=self.max_per_account,
                    )
                )
            subscription = Subscription(channel, payload, account, self._generation, slot)
            self._subscriptions[(channel, payload)].add(subscription)
            self._count += 1
            return subscription

    def leave(self, subscription: Subscription) -> None:
        """Synchronous and idempotent, so that a cancelled stream can call it from `finally`;
        the database work (unlock, or close when idle) runs in a task of the hub's own."""
        if subscription.done:
            return
        subscription.done = True
        key = (subscription.channel, subscription.payload)
        self._subscriptions[key].discard(subscription)
        if not self._subscriptions[key]:
            del self._subscriptions[key]
        self._count -= 1
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._release(subscription))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """At shutdown: every stream ends, the listening connection closes."""
        async with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            self._wake_all_lost()
            if conn is not None:
                await _close(conn)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- under self._lock ----------------------------------------------------------------

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        # After a failed attempt the streams that queued behind it fail at once, rather than
        # each waiting for its own attempt (their browsers try again in a few seconds).
        loop = asyncio.get_running_loop()
        if loop.time() - self._failed_at < RECONNECT_PAUSE_SECONDS:
            raise ConnectionError("the database was out of reach a moment ago")
        try:
            conn = await asyncpg.connect(
                self.database_url,
                timeout=self.connect_timeout,
                server_settings={"application_name": APPLICATION_NAME},
            )
        except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError):
            self._failed_at = loop.time()
            raise
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn
        self._generation += 1
        self._listening.clear()
        self._held.clear()
        return conn

    async def _take_slot(self, conn: asyncpg.Connection, account: int) -> int | None:
        held = self._held[account]
        for slot in range(self.max_per_account):
            # A session lock is re-entrant: a slot this process holds must not be taken again.
            if slot in held:
                continue
            taken = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                _lock_name(account, slot),
                timeout=self.connect_timeout,
            )
            if taken:
                held.add(slot)
                return slot
        return None

    async def _release(self, subscription: Subscription) -> None:
        async with self._lock:
            conn = self._conn
            if conn is None or subscription.generation != self._generation:
                return  # its locks ended with the connection it was admitted on
            if self._count == 0:
                # Nobody listens: close (which also frees every lock) until the next stream.
                self._conn = None
                await _close(conn)
                return
            if subscription.slot is None or subscription.account is None:
                return
            try:
                await conn.fetchval(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    _lock_name(subscription.account, subscription.slot),
                    timeout=self.connect_timeout,
                )
            except UNAVAILABLE_ERRORS:
                self._lose(conn)
                return
            self._held[subscription.account].discard(subscription.slot)

    # -- callbacks and helpers (synchronous) ---------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for subscription in self._subscriptions.get((channel, payload), ()):
            subscription._wake()

    def _on_terminated(self, conn: asyncpg.Connection) -> None:
        if conn is self._conn:
            log.warning("live updates: the listening connection was lost; streams end")
            self._conn = None
            self._wake_all_lost()

    def _lose(self, conn: asyncpg.Connection) -> None:
        """A statement on the listening connection failed: give it up, and with it every
        stream admitted on it (their account locks are gone)."""
        if conn is self._conn:
            self._conn = None
            self._wake_all_lost()
        conn.terminate()

    def _wake_all_lost(self) -> None:
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.lost = True
                subscription._wake()


def _too_many(detail: str) -> TooManyRequestsException:
    return TooManyRequestsException(
        detail=detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError):
        conn.terminate()


def keep_until_done(scope: Scope, hub: LiveHub, subscription: Subscription) -> None:
    """The request gives its subscription up when it is done, even if its stream never ran
    (release_stream must be a middleware of the route)."""
    scope["state"][_SCOPE_KEY] = (hub, subscription)  # type: ignore[typeddict-item]


def release_stream(app: ASGIApp) -> ASGIApp:
    """Route middleware for event streams: after the response, whatever became of it, the
    request's subscription is left (once; the stream's own `finally` may have done so)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            held = scope.get("state", {}).pop(_SCOPE_KEY, None)  # type: ignore[union-attr]
            if held is not None:
                hub, subscription = held
                hub.leave(subscription)

    return middleware
