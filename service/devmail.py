"""A local mailbox for trying the app out (`make run`): an SMTP server in the serving process
that keeps every message as an .eml file under var/mail/ and says so on the console.

Not for production (there, SMTP_URL points at a real mail server). It uses aiosmtpd, the
same SMTP server the tests use.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from pathlib import Path
from typing import Any

log = logging.getLogger("tagung.devmail")


class SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        count = len(list(self.folder.glob("*.eml"))) + 1
        path = self.folder / f"{count:05d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        print(f"✉  to {', '.join(envelope.rcpt_tos)}: {message['subject']} → {path}", flush=True)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> tuple[Any, str]:
    """Starts the mailbox; returns (controller to stop, SMTP_URL to use)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:  # a production install without the dev extras
        raise RuntimeError("--dev-mail needs aiosmtpd: pip install -e '.[dev]'") from exc
    # aiosmtpd logs every connection (and its own start-up probe) at INFO: noise here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = _free_port()
    controller = Controller(SaveToFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    log.info("development mailbox: mails are kept in %s", folder)
    return controller, f"smtp://127.0.0.1:{port}"
