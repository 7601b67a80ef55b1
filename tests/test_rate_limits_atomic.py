"""Per-client limits hold exactly under a rush over two web processes (issue 12, point 7).

`tagung serve --workers 2` with the limits on, and many requests from one client at once:
exactly `limit` of them pass, the rest get 429 — the count is taken and checked in one
statement in PostgreSQL, not read by one process and written back while the other reads too.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import running_server
from tests.registration_support import make_conference, register

UNKNOWN = "ABCDEFGHJKMNPQRSTUVWXYZ234"  # a well-formed token nobody holds
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def limited_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two web processes sharing nothing but PostgreSQL, with the per-client limits on."""
    with running_server(database_url, tmp_path_factory.mktemp("limited"), workers=2) as url:
        yield url


def rushing_client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=100)
    )


async def test_registrations_pass_exactly_the_limit(limited_server, organiser, pool) -> None:
    async with rushing_client(limited_server) as http:
        await make_conference(http, organiser, capacity=100)
        answers = await asyncio.gather(
            *(register(http, email=f"person{i}@example.org") for i in range(60))
        )
    assert Counter(a.status_code for a in answers) == {202: 30, 429: 30}
    assert await pool.fetchval("SELECT count(*) FROM registrations") == 30
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-limit"] == "30"


async def test_link_routes_share_one_exact_limit(limited_server, organiser) -> None:
    """Guessing tokens over several link routes at once: 120 answers, then 429."""
    paths = [
        f"/r/{UNKNOWN}",
        f"/api/v1/registrations/{UNKNOWN}",
        f"/x/{UNKNOWN}",
        f"/api/v1/exhibitor-bookings/{UNKNOWN}",
    ]
    async with rushing_client(limited_server) as http:
        await make_conference(http, organiser)
        answers = await asyncio.gather(*(http.get(paths[i % len(paths)]) for i in range(200)))
    assert Counter(a.status_code for a in answers) == {404: 120, 429: 80}


async def test_logins_pass_exactly_the_limit(limited_server) -> None:
    async with rushing_client(limited_server) as http:
        form = await http.get("/staff/login")
        token = CSRF_FIELD.search(form.text).group(1)
        answers = await asyncio.gather(
            *(
                http.post(
                    "/staff/login",
                    # A different (unknown) account each time: only the per-client limit counts.
                    data={
                        "email": f"nobody{i}@example.org",
                        "password": "wrong-password",
                        "_csrf_token": token,
                    },
                )
                for i in range(30)
            )
        )
    assert Counter(a.status_code for a in answers) == {400: 10, 429: 20}
