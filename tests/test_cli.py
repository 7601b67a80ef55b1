"""The `tagung` command, run as a real process against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import asyncpg
import httpx

from service.auth import verify_password
from service.migrate import load_functions


def tagung(
    *args: str, database_url: str | None, timeout: float = 60
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_staff_add_generates_a_password_without_terminal(database_url, pool):
    result = tagung(
        "staff", "add", "Anna@Example.org", "--role", "scanner", database_url=database_url
    )
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip().splitlines()[-1].removeprefix("Password: ")
    async with pool.acquire() as db:
        row = await db.fetchrow(
            "SELECT role, password_hash FROM staff WHERE email = 'anna@example.org'"
        )
    assert row["role"] == "scanner"
    assert await verify_password(row["password_hash"], password)

    again = tagung("staff", "add", "anna@example.org", "--role", "admin", database_url=database_url)
    assert again.returncode == 1
    assert "already an account" in again.stderr


async def test_staff_token_prints_a_working_token_last(database_url, client):
    tagung(
        "staff",
        "add",
        "orga@example.org",
        "--role",
        "organiser",
        "--password",
        "ein-langes-passwort",
        database_url=database_url,
    )
    result = tagung("staff", "token", "orga@example.org", database_url=database_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    response = await client.post(
        "/api/v1/conferences",
        json={
            "slug": "cli-test",
            "title": "CLI",
            "venue": "Hier",
            "address": "",
            "starts_at": "2027-01-01T10:00:00+01:00",
            "ends_at": "2027-01-01T12:00:00+01:00",
            "capacity": 5,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201

    unknown = tagung("staff", "token", "niemand@example.org", database_url=database_url)
    assert unknown.returncode == 1 and "no account" in unknown.stderr


def test_bad_arguments_exit_2(database_url):
    bad_role = tagung("staff", "add", "x@example.org", "--role", "boss", database_url=database_url)
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    bad_email = tagung("staff", "add", "not-an-email", "--role", "admin", database_url=database_url)
    assert bad_email.returncode == 2
    short = tagung(
        "staff",
        "add",
        "y@example.org",
        "--role",
        "admin",
        "--password",
        "kurz",
        database_url=database_url,
    )
    assert short.returncode == 2 and "10 characters" in short.stderr
    assert tagung(database_url=database_url).returncode == 2


def test_unreachable_database_exits_3_with_a_clear_message():
    result = tagung("migrate", database_url="postgresql://postgres@127.0.0.1:9/nowhere")
    assert result.returncode == 3
    assert "127.0.0.1:9" in result.stderr
    token = tagung(
        "staff", "token", "a@example.org", database_url="postgresql://u:geheim@127.0.0.1:9/x"
    )
    assert token.returncode == 3
    assert "geheim" not in token.stderr  # no password in messages


async def test_migrate_and_demo(create_database):
    url = await create_database()
    first = tagung("migrate", database_url=url)
    assert first.returncode == 0 and "0001_foundation.sql" in first.stdout
    assert f"Defined {len(load_functions())} database function(s)" in first.stdout
    assert "up to date" in tagung("migrate", database_url=url).stdout

    demo = tagung("demo", database_url=url)
    assert demo.returncode == 0, demo.stderr
    assert "integrationskonferenz-2027" in demo.stdout and "password:" in demo.stdout
    counts = await _demo_counts(url)
    assert counts["forums"] == 6 and counts["forum_slots"] == 2 and counts["dgs"] == 1
    assert counts["signups"] > 0 and counts["forum_seats_right"]
    assert counts["stands"] >= 24 and counts["blocked"] >= 1 and counts["areas"] == 2
    assert counts["approved"] >= 5 and counts["requested"] == 1 and counts["waitlisted"] == 1
    assert counts["attendees"] >= 30 and counts["categories"] >= 4 and counts["inside"] > 0
    assert counts["seats_right"]
    assert counts["outbox"] == 0  # no mails about fictional people

    again = tagung("demo", database_url=url)
    assert again.returncode == 0 and "already there" in again.stdout
    assert await _demo_counts(url) == counts


async def _demo_counts(url: str) -> dict:
    db = await asyncpg.connect(url)
    try:
        row = await db.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM forums) AS forums,
              (SELECT count(DISTINCT starts_at) FROM forums) AS forum_slots,
              (SELECT count(*) FROM forums WHERE interpretation = 'DGS') AS dgs,
              (SELECT count(*) FROM forum_signups WHERE status = 'confirmed') AS signups,
              (SELECT bool_and(f.seats_taken = (SELECT count(*) FROM forum_signups s
                   WHERE s.forum_id = f.id AND s.status = 'confirmed')) FROM forums f)
                  AS forum_seats_right,
              (SELECT count(*) FROM stands) AS stands,
              (SELECT count(*) FROM stands WHERE blocked) AS blocked,
              (SELECT count(DISTINCT area) FROM stands) AS areas,
              (SELECT count(*) FROM exhibitor_bookings WHERE status = 'approved'
                   AND stand_id IS NOT NULL AND description <> '') AS approved,
              (SELECT count(*) FROM exhibitor_bookings WHERE status = 'requested') AS requested,
              (SELECT count(*) FROM exhibitor_bookings WHERE status = 'waitlisted') AS waitlisted,
              (SELECT count(*) FROM registrations WHERE status = 'confirmed'
                   AND category <> 'exhibitor_staff') AS attendees,
              (SELECT count(DISTINCT category) FROM registrations) AS categories,
              (SELECT count(*) FROM registrations WHERE inside) AS inside,
              (SELECT seats_taken = (SELECT count(*) FROM registrations WHERE status = 'confirmed'
                   AND category <> 'exhibitor_staff') FROM conferences) AS seats_right,
              (SELECT count(*) FROM outbox) AS outbox
            """
        )
        return dict(row)
    finally:
        await db.close()


def test_serve_with_two_workers_and_stop_on_sigterm(database_url, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TAGUNG_DATA_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60  # only bounds a failure, on a machine that may be busy
        while True:
            # Both web processes up: a SIGTERM that meets one still starting (as on a busy
            # machine) is only answered by Granian's kill after 8 s.
            up = all(f"Started worker-{n}" in log.read_text() for n in (1, 2))
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
                if up and health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            assert server.poll() is None, log.read_text()
            time.sleep(0.2)
        for _ in range(6):  # several requests, spread over both workers
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/conferences").status_code == 200
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        assert time.monotonic() - started < 10
        assert server.returncode == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
