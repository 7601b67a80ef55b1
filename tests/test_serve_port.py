"""A second `tagung serve` on a port already in use refuses to start (issue 12, point 8):
Granian's listening socket allows sharing the port, so a second server started by mistake
(another version, another database) silently took half of the requests."""

from __future__ import annotations

import os
import socket
import subprocess
from urllib.parse import urlsplit

import httpx
import pytest

from service.settings import PROJECT_ROOT
from tests.live_server import SECRET_KEY, _free_port, _tagung_command, running_server

IN_USE = "already in use"


def serve(port: int, database_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "TAGUNG_DATA_DIR": str(tmp_path),
        "SMTP_URL": "smtp://127.0.0.1:1",
    }
    command = [*_tagung_command(), "serve", "--port", str(port), "--no-worker"]
    try:
        return subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`tagung serve --port {port}` started on a port in use: {exc.output!r}")


def test_a_second_serve_on_the_same_port_refuses_to_start(database_url, tmp_path) -> None:
    (tmp_path / "first").mkdir()
    with running_server(database_url, tmp_path / "first") as url:
        port = urlsplit(url).port
        second = serve(port, database_url, tmp_path)
        assert second.returncode != 0
        assert IN_USE in second.stderr and str(port) in second.stderr
        assert "Traceback" not in second.stderr
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200  # the first one serves


def test_serve_refuses_a_port_another_program_listens_on(database_url, tmp_path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", _free_port()))
        other.listen()
        port = other.getsockname()[1]
        result = serve(port, database_url, tmp_path)
    assert result.returncode != 0
    assert IN_USE in result.stderr and "Traceback" not in result.stderr
