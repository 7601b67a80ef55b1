"""Login limited per e-mail address as well as per client (issue 12, point 7): ten attempts
per account in fifteen minutes, however many addresses and processes they come from; the
count is taken in PostgreSQL before the password is checked, in one statement."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import replace

import httpx
from litestar.testing import AsyncTestClient

from service import login_limit
from service.app import create_app
from tests.conftest import csrf_token

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
TOO_MANY_DE = "Zu viele fehlgeschlagene Anmeldeversuche mit dieser E-Mail-Adresse"


async def rush(base_url: str, email: str, password: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=count)
    ) as http:
        token = CSRF_FIELD.search((await http.get("/staff/login")).text).group(1)
        return await asyncio.gather(
            *(
                http.post(
                    "/staff/login",
                    data={"email": email, "password": password, "_csrf_token": token},
                )
                for _ in range(count)
            )
        )


async def test_a_rush_on_one_account_gets_ten_password_checks(two_process_server, make_staff, pool):
    """Two web processes, limits per client off (as if every guess came from elsewhere):
    of 30 wrong passwords at once exactly 10 are checked, then even the right one waits."""
    account = await make_staff("organiser")
    answers = await rush(two_process_server, account.email, "wrong-password", 30)
    assert Counter(a.status_code for a in answers) == {400: 10, 429: 20}
    refused = next(a for a in answers if a.status_code == 429)
    assert TOO_MANY_DE in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= login_limit.WINDOW_SECONDS
    assert 'id="login-error"' in refused.text and account.email in refused.text

    [right] = await rush(two_process_server, account.email.upper(), account.password, 1)
    assert right.status_code == 429

    # An address without an account is answered the same way: nothing tells them apart.
    unknown = await rush(two_process_server, "niemand@example.org", "wrong-password", 30)
    assert Counter(a.status_code for a in unknown) == {400: 10, 429: 20}
    assert await pool.fetchval("SELECT count(*) FROM login_attempts") == 2


async def test_a_login_starts_afresh_and_the_window_ends(settings, make_staff, pool):
    account = await make_staff("organiser")
    unlimited = replace(settings, rate_limits=False)  # only the per-account limit here
    async with AsyncTestClient(app=create_app(unlimited), base_url="http://testserver.local") as c:
        token = await csrf_token(c, "/staff/login")

        async def attempt(password: str) -> int:
            form = {"email": account.email, "password": password, "_csrf_token": token}
            answer = await c.post("/staff/login", data=form, follow_redirects=False)
            return answer.status_code

        assert [await attempt("wrong") for _ in range(9)] == [400] * 9
        assert await attempt(account.password) == 302
        # The successful login forgot the nine: ten more typos are checked.
        assert [await attempt("wrong") for _ in range(11)] == [400] * 10 + [429]
        assert await attempt(account.password) == 429
        # Fifteen minutes later (the window moved back instead of waiting) it opens again.
        async with pool.acquire() as db:
            await db.execute(
                "UPDATE login_attempts SET window_started_at = now() - interval '15 minutes'"
            )
        assert await attempt(account.password) == 302
