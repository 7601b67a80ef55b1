"""Race tests need requests that really run at the same time. Two requests where the first
waits until the second has arrived finish only if both are in the app at once."""

from __future__ import annotations

import asyncio

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from tests.conftest import racing_client


def meeting_app() -> Litestar:
    arrived = asyncio.Event()

    @get("/first")
    async def first() -> str:
        await asyncio.wait_for(arrived.wait(), timeout=5)
        return "met"

    @get("/second")
    async def second() -> str:
        arrived.set()
        return "arrived"

    return Litestar([first, second])


async def test_the_racing_client_runs_requests_at_once() -> None:
    async with racing_client(meeting_app()) as client:
        first, second = await asyncio.gather(client.get("/first"), client.get("/second"))
    assert (first.status_code, first.text) == (200, "met")
    assert second.status_code == 200


async def test_litestars_test_client_runs_them_one_after_the_other() -> None:
    """Why racing_client exists: here the first request waits in vain for the second."""
    async with AsyncTestClient(app=meeting_app()) as client:
        first, _second = await asyncio.gather(client.get("/first"), client.get("/second"))
    assert first.status_code == 500


@pytest.fixture(autouse=True)
def clean_tables() -> None:
    """No database here (overrides conftest's)."""
