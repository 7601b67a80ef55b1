"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, keeping what it receives.

Import the fixture explicitly (`from tests.smtp_server import smtp_server`); only the root
conftest may declare pytest_plugins. The server runs in its own thread and event loop, so the
code under test talks to it over a real socket. `stop()` and `start()` simulate an outage on
the same port; `stall_after(n)` makes it hang in the middle of a transaction, as a server going
down mid-batch does; `trouble[address]` makes it misbehave for one recipient only, as a relay
whose recipient check waits on DNS or whose content filter gives up does.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


# What `SmtpServer.trouble` can make the server do for one recipient.
HANG = "hang"  # no answer to its RCPT TO
DROP = "drop"  # the connection closed at its RCPT TO
REFUSE_421 = "421"  # 421 to its RCPT TO
DATA_421 = "421 after data"  # 421 instead of accepting the message's data


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.server._seen(address)
        if address.lower() in self.server.refused_recipients:
            return "550 5.1.1 No such user here"
        trouble = self.server.trouble.get(address.lower())
        if trouble == HANG:
            # No answer until the client gives up and closes (the task is then cancelled).
            await asyncio.get_running_loop().create_future()
        if trouble == DROP:
            server.transport.close()
            return "250 OK"  # never arrives
        if trouble == REFUSE_421:
            return "421 4.4.5 Recipient check unavailable, closing connection"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(self.server.trouble.get(a.lower()) == DATA_421 for a in envelope.rcpt_tos):
            return "421 4.7.0 Content filter unavailable, closing connection"
        if self.server._stall_now():
            # Hang without an answer until the server is stopped (the task is then cancelled
            # and the connection dropped): the message was never accepted.
            await asyncio.get_running_loop().create_future()
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        self.server._keep(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 OK: queued"


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or _free_port()
        self.refused_recipients: set[str] = set()
        self.trouble: dict[str, str] = {}  # lower-case address -> HANG, DROP, REFUSE_421, …
        self._recipients_seen: list[str] = []
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._stall_at: int | None = None
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Starts (again) on the same port; a fresh controller, since a stopped one is spent."""
        assert self._controller is None, "already running"
        controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stops listening and drops open connections. Blocks briefly: from async code while
        the code under test runs in the same loop, use `await asyncio.to_thread(server.stop)`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def stall_after(self, count: int | None) -> None:
        """Accept messages until `count` have arrived in total, then hang on every further one;
        None accepts again."""
        with self._lock:
            self._stall_at = count

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def recipients_seen(self) -> list[str]:
        """Every RCPT TO address the server was given, in order, accepted or not."""
        with self._lock:
            return list(self._recipients_seen)

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.messages]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    async def wait_for(self, count: int, seconds: float = 30.0) -> list[Received]:
        """Waits until at least `count` messages have arrived; fails the test after `seconds`
        (generous: it only bounds a failure, on a machine that may be busy)."""
        deadline = time.monotonic() + seconds
        while len(received := self.messages) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"SMTP server got {len(received)} message(s), expected {count}")
            await asyncio.sleep(0.02)
        return received

    def _stall_now(self) -> bool:
        with self._lock:
            return self._stall_at is not None and len(self._received) >= self._stall_at

    def _seen(self, address: str) -> None:
        with self._lock:
            self._recipients_seen.append(address)

    def _keep(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server for one test; `smtp_server.url` is its SMTP_URL."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
