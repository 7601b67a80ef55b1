"""End-to-end: the forum participants staff page in headless Chromium against `tagung serve`,
with more people than fit on one page (100 a page): paging forwards and back, a move from the
second page that comes back to it, and the CSV export with everyone."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.forum_support import CONFERENCE_SLUG, make_attendees, make_forum
from tests.live_server import SECRET_KEY
from tests.test_browser import create_conference, log_in

pytestmark = pytest.mark.browser

SEATS, WAITING = 110, 20  # 130 people: page 1 holds 100 with a seat, page 2 the rest


async def crowded_forum(base_url: str, organiser, pool) -> tuple[dict, dict, list[int]]:
    """A forum with SEATS people holding a seat and WAITING on its waiting list (straight into
    the database, in id order), and a second forum at the same time to move people to."""
    await create_conference(base_url, organiser, capacity=1000)
    async with httpx.AsyncClient(base_url=base_url) as api:
        forum = await make_forum(api, organiser, capacity=SEATS)
        other = await make_forum(api, organiser, title="Vernetzung", capacity=50)
    people = await make_attendees(pool, SECRET_KEY, CONFERENCE_SLUG, SEATS + WAITING)
    ids = [rid for rid, _token in people]
    async with pool.acquire() as db:
        await db.execute(
            """
            INSERT INTO forum_signups (forum_id, registration_id, status, waitlist_position,
                                       during)
            SELECT f.id, p.id,
                   CASE WHEN p.n <= f.capacity THEN 'confirmed' ELSE 'waitlisted' END,
                   CASE WHEN p.n > f.capacity THEN nextval('forum_waitlist_order') END,
                   tstzrange(f.starts_at, f.ends_at, '[)')
            FROM forums f,
                 (SELECT id, row_number() OVER (ORDER BY id) AS n FROM unnest($2::bigint[]) id) p
            WHERE f.id = $1
            ORDER BY p.n
            """,
            forum["id"],
            ids,
        )
        await db.execute("UPDATE forums SET seats_taken = capacity WHERE id = $1", forum["id"])
    return forum, other, ids


async def shown_people(page: Page) -> list[int]:
    rows = page.locator('tbody tr[id^="person-"]')
    return [int((await row.get_attribute("id") or "").split("-")[1]) for row in await rows.all()]


async def test_participants_page_by_page_with_a_move_and_the_whole_csv(
    page: Page, live_server: str, organiser, pool
):
    forum, other, ids = await crowded_forum(live_server, organiser, pool)
    await log_in(page, organiser)
    await page.goto(f"/staff/forums/{forum['id']}/participants?lang=en")

    pages = page.get_by_role("navigation", name="Pages").first
    await expect(pages).to_contain_text("People 1 to 100 of 130")
    first = await shown_people(page)
    assert first == ids[:100]
    await expect(page.get_by_text("20 people waiting: on the next pages.")).to_be_visible()
    await expect(pages.get_by_role("link", name="Previous page")).to_have_count(0)

    await pages.get_by_role("link", name="Next page").click()
    await expect(pages).to_contain_text("People 101 to 130 of 130")
    second = await shown_people(page)
    assert second == ids[100:] and not set(first) & set(second)
    second_url = page.url
    assert re.search(r"\?after=s\d+$", second_url)
    await expect(pages.get_by_role("link", name="Next page")).to_have_count(0)
    await expect(page.get_by_role("table", name="20 people waiting")).to_be_visible()

    # Move the last person with a seat to the other forum, from page 2: back on page 2, with
    # the notice; the first person waiting has moved up into the freed seat.
    mover = ids[SEATS - 1]
    row = page.locator(f"#person-{mover}")
    await row.get_by_label(re.compile("Move .* to forum")).select_option(str(other["id"]))
    await row.get_by_role("button", name=re.compile("^Move")).click()
    await expect(page.locator("#notice")).to_contain_text("now has a seat in “Vernetzung”")
    assert page.url.startswith(second_url + "&moved=")
    after_move = await shown_people(page)
    assert mover not in after_move and after_move[0] == ids[100]
    await expect(page.locator("#count-waiting")).to_have_text("19")
    await expect(page.locator(f"#person-{ids[SEATS]} td[data-attended]")).to_have_count(1)

    await pages.get_by_role("link", name="Previous page").click()
    assert await shown_people(page) == ids[:100]
    await expect(pages.get_by_role("link", name="First page")).to_have_count(0)

    exported = await page.request.get(f"{live_server}/staff/forums/{forum['id']}/participants.csv")
    assert exported.ok
    lines = (await exported.body()).decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + SEATS + WAITING - 1  # the header and everyone still in the forum
