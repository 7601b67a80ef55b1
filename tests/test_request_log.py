"""The request log writes the status the client got (issue 12, point 8): answers made from
an error raised outside the route's own error handling (the rate limit's 429, the CSRF
check's 403) were written as 500."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import csrf_token


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tagung.requests"]


def status_of(line: str) -> str:
    method, route, status, _duration = line.split(" ")
    return f"{method} {route} {status}"


async def test_a_refused_csrf_check_is_logged_as_403(client, caplog) -> None:
    caplog.set_level(logging.INFO, logger="tagung.requests")
    response = await client.post("/staff/login", data={"email": "x@example.org"})
    assert response.status_code == 403
    assert [status_of(line) for line in logged(caplog)] == ["POST /staff/login 403"]


async def test_a_rate_limited_request_is_logged_as_429(client, caplog) -> None:
    token = await csrf_token(client, "/staff/login")
    caplog.set_level(logging.INFO, logger="tagung.requests")
    caplog.clear()
    statuses = []
    for i in range(11):
        response = await client.post(
            "/staff/login",
            data={"email": f"nobody{i}@example.org", "password": "wrong", "_csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses == [400] * 10 + [429]
    assert [status_of(line) for line in logged(caplog)] == [
        *["POST /staff/login 400"] * 10,
        "POST /staff/login 429",
    ]
