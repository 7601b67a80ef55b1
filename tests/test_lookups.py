"""The rows handlers start from come from one lookup each, as Litestar dependencies:

- the conference at `{slug}`: `published_conference` (a draft is not there) or `staff_conference`
  (drafts too), service/conferences/lookups.py;
- the registration behind `/r/{token}` and `/api/v1/registrations/{token}`:
  registration/lookups.py; the booking behind `/x/{token}` and `/api/v1/exhibitor-bookings/
  {token}`: exhibitors/lookups.py.

`test_handlers_receive_their_row` checks from the route table that every such handler takes its
row from these providers or is listed in BY_HAND with the reason. `test_a_draft_answers_as_
before` pins which rule each page and API path follows (the answers these paths gave before
the lookups moved), and `test_an_unknown_conference_is_one_404` the one message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from exhibitors.lookups import booking_by_token
from registration.lookups import registration_by_token
from service.conferences.lookups import published_conference, staff_conference
from tests.conftest import login
from tests.registration_support import SLUG, make_conference

PROVIDERS: dict[str, tuple[Any, ...]] = {
    "conference": (published_conference, staff_conference),
    "registration": (registration_by_token,),
    "booking": (booking_by_token,),
}
LINKS = {
    "registration": ("/r/{token}", "/api/v1/registrations/{token}"),
    "booking": ("/x/{token}", "/api/v1/exhibitor-bookings/{token}"),
}

_BODY = "by hand: Litestar resolves a dependency before it validates the body"
_QUERY = "by hand: Litestar resolves a dependency before it validates the query"
_LOGIC = "the logic looks the conference up itself, in its transaction"
_ACTION = "by hand, after the check of {action} (its 404 comes first)"
BY_HAND = {
    "POST /api/v1/conferences/{slug}/programme": _LOGIC,
    "PATCH /api/v1/conferences/{slug}": _LOGIC,
    "PATCH /api/v1/conferences/{slug}/programme/{item_id}": _LOGIC,
    "DELETE /api/v1/conferences/{slug}/programme/{item_id}": _LOGIC,
    "POST /staff/conferences/{slug}/programme/{item_id}/delete": _LOGIC,
    "POST /api/v1/conferences/{slug}/registrations": _LOGIC,
    "POST /api/v1/conferences/{slug}/forums": _LOGIC,
    "POST /api/v1/conferences/{slug}/stands": _LOGIC,
    "POST /api/v1/conferences/{slug}/stands/row": _LOGIC,
    "POST /api/v1/conferences/{slug}/exhibitor-bookings": _LOGIC,
    "GET /api/v1/conferences/{slug}/registrations": _QUERY,
    "GET /api/v1/conferences/{slug}/registrations.csv": _QUERY,
    "GET /api/v1/conferences/{slug}/checkin/search": _QUERY,
    "POST /api/v1/conferences/{slug}/devices": _BODY,
    "GET /api/v1/conferences/{slug}/devices": _QUERY,
    "GET /api/v1/conferences/{slug}/exhibitor-bookings": _QUERY,
    "PATCH /api/v1/registrations/{token}": _BODY,
    "PATCH /api/v1/exhibitor-bookings/{token}": _BODY,
    "POST /api/v1/exhibitor-bookings/{token}/passes": _BODY,
    "GET /staff/conferences/{slug}/registrations/{registration_id}/{action}": _ACTION,
    "POST /staff/conferences/{slug}/registrations/{registration_id}/{action}": _ACTION,
    "GET /staff/conferences/{slug}/exhibitors/{booking_id}/{action}": _ACTION,
    "POST /staff/conferences/{slug}/exhibitors/{booking_id}/{action}": _ACTION,
    "GET /staff/conferences/{slug}/entrance/events": "a stream holds no request-long connection",
    "GET /r/{token}/feed.ics": "the calendar feed's own token (calendar.by_feed_token)",
    "GET /r/{token}/forums/{forum_id}/join": "no lookup: a redirect to the forums page",
    "GET /r/{token}/forums/{forum_id}/leave": "no lookup: a redirect to the forums page",
}


def handlers(app: Litestar) -> Iterator[tuple[str, HTTPRouteHandler]]:
    """("METHOD /path/{param}", handler) for every route of the app but OPTIONS."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods - {"OPTIONS"}):
                    yield f"{method} {route.path_format}", handler


def row_kind(path: str) -> str | None:
    """Which row the path names: a conference by slug, a registration or a booking by token."""
    if "{slug}" in path:
        return "conference"
    return next((kind for kind, bases in LINKS.items() if path.startswith(bases)), None)


def provider(handler: HTTPRouteHandler, kind: str) -> Any:
    if kind not in handler.parsed_fn_signature.parameters:
        return None
    provided = handler.resolve_dependencies().get(kind)
    return provided.dependency if provided else None


@pytest.fixture
def app(client: AsyncTestClient) -> Litestar:
    return client.app


def test_handlers_receive_their_row(app: Litestar) -> None:
    missing, listed = [], []
    for key, handler in handlers(app):
        kind = row_kind(key.split(" ", 1)[1])
        if kind is None:
            continue
        given = provider(handler, kind) in PROVIDERS[kind]
        if not given and key not in BY_HAND:
            missing.append(f"{key} ({handler.fn.__qualname__}): no `{kind}` dependency")
        if given and key in BY_HAND:
            listed.append(f"{key}: takes `{kind}` now; remove it from BY_HAND")
    assert not missing + listed, "\n".join(missing + listed)
    routes = {key for key, _handler in handlers(app)}
    assert not set(BY_HAND) - routes, f"BY_HAND names routes that are gone: {set(BY_HAND) - routes}"


def _body_fields(handler: HTTPRouteHandler) -> set[str]:
    body = handler.parsed_fn_signature.parameters.get("data")
    if body is None:
        return set()
    types = body.inner_types if body.is_optional else (body,)
    return {
        field.encode_name
        for t in types
        if isinstance(t.annotation, type) and issubclass(t.annotation, msgspec.Struct)
        for field in msgspec.structs.fields(t.annotation)
    }


def test_no_body_field_is_named_like_a_dependency(app: Litestar) -> None:
    """Litestar takes an invalid value of a body field that has the name of a dependency the
    handler could be given for a failed dependency: 500 instead of 400. A lookup registered on
    a controller whose other handler takes `{"conference": …}` did exactly that."""
    clashes = [
        f"{key}: body field(s) {sorted(shared)} named like dependencies of its layers"
        for key, handler in handlers(app)
        if (shared := _body_fields(handler) & set(handler.resolve_dependencies()))
    ]
    assert not clashes, "\n".join(clashes)


# The GET paths whose one parameter is the slug, and what a draft answers there: 404 on the
# public ones (even to staff), the page or data on the staff ones.
PUBLIC, STAFF = 404, 200
DRAFT = {
    "/api/v1/conferences/{slug}": PUBLIC,
    "/api/v1/conferences/{slug}/forums": PUBLIC,
    "/api/v1/conferences/{slug}/stands": PUBLIC,
    "/api/v1/conferences/{slug}/exhibitors": PUBLIC,
    # Staff's list of booking requests: drafts too, as the staff pages of the market.
    "/api/v1/conferences/{slug}/exhibitor-bookings": STAFF,
    "/conferences/{slug}": PUBLIC,
    "/conferences/{slug}/register": PUBLIC,
    "/conferences/{slug}/privacy": PUBLIC,
    "/conferences/{slug}/forums": PUBLIC,
    "/conferences/{slug}/exhibit": PUBLIC,
    "/conferences/{slug}/exhibitors": PUBLIC,
    "/conferences/{slug}/floorplan.svg": PUBLIC,
    "/api/v1/conferences/{slug}/registrations": STAFF,
    "/api/v1/conferences/{slug}/registrations.csv": STAFF,
    "/api/v1/conferences/{slug}/registrations/summary": STAFF,
    "/api/v1/conferences/{slug}/checkin/search": STAFF,
    "/api/v1/conferences/{slug}/checkin/offline-data": STAFF,
    "/api/v1/conferences/{slug}/devices": STAFF,
    "/staff/conferences/{slug}/devices": STAFF,
    "/api/v1/conferences/{slug}/entrance/stats": STAFF,
    "/api/v1/conferences/{slug}/entrance/attendees.csv": STAFF,
    "/api/v1/conferences/{slug}/entrance/checkins.csv": STAFF,
    "/api/v1/conferences/{slug}/entrance/needs.csv": STAFF,
    "/staff/conferences/{slug}": STAFF,
    "/staff/conferences/{slug}/programme/new": STAFF,
    "/staff/conferences/{slug}/registrations": STAFF,
    "/staff/conferences/{slug}/entrance": STAFF,
    "/staff/conferences/{slug}/entrance/arrivals.svg": STAFF,
    "/staff/conferences/{slug}/badges": STAFF,
    "/staff/conferences/{slug}/forums": STAFF,
    "/staff/conferences/{slug}/forums/new": STAFF,
    "/staff/conferences/{slug}/stands": STAFF,
    "/staff/conferences/{slug}/exhibitors": STAFF,
    "/api/v1/conferences/{slug}/audit": STAFF,
    "/api/v1/conferences/{slug}/audit.csv": STAFF,
    "/staff/conferences/{slug}/audit": STAFF,
}
# A stream that stays open: its lookup is the same `staff_conference`, called by hand.
NOT_REQUESTED = {"/staff/conferences/{slug}/entrance/events"}
QUERY = {"/api/v1/conferences/{slug}/checkin/search": "?q=Ay"}
MESSAGE = "There is no conference at this address."


def test_every_slug_path_has_its_draft_rule(app: Litestar) -> None:
    paths = {
        key.split(" ", 1)[1]
        for key, _handler in handlers(app)
        if key.startswith("GET ") and key.count("{") == 1 and "{slug}" in key
    }
    assert paths - NOT_REQUESTED == set(DRAFT)


async def _get(client: AsyncTestClient, template: str, slug: str, staff: Any) -> Any:
    headers = {"Accept-Language": "en"}
    if template.startswith("/api/"):
        headers |= staff.headers
    path = template.replace("{slug}", slug) + QUERY.get(template, "")
    return await client.get(path, headers=headers)


def _says_no_conference(path: str, response: Any) -> bool:
    if path.startswith("/api/"):
        return response.json()["detail"] == MESSAGE
    return MESSAGE in response.text


async def test_a_draft_answers_as_before(client: AsyncTestClient, make_staff) -> None:
    admin = await make_staff("admin")
    await make_conference(client, admin)
    hidden = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"published": False}, headers=admin.headers
    )
    assert hidden.status_code == 200, hidden.text
    await login(client, admin)
    answers = {}
    for template in DRAFT:
        response = await _get(client, template, SLUG, admin)
        answers[template] = response.status_code
        if response.status_code == 404:
            assert _says_no_conference(template, response), (template, response.text[:300])
    assert answers == DRAFT


async def test_an_unknown_conference_is_one_404(client: AsyncTestClient, make_staff) -> None:
    admin = await make_staff("admin")
    await login(client, admin)
    for template in DRAFT:
        response = await _get(client, template, "gibt-es-nicht", admin)
        assert response.status_code == 404, template
        assert _says_no_conference(template, response), (template, response.text[:300])
