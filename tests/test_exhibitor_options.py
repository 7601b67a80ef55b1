"""One name for each exhibitor choice (exhibitors.options): the mails name a booking's kind,
its equipment and its status as the exhibitor page does, and the API takes exactly the values
the forms offer."""

from __future__ import annotations

from typing import get_args

from exhibitors import options, schemas
from tests.exhibitor_support import make_stand, request_and_confirm
from tests.registration_support import make_conference
from tests.smtp_server import smtp_server
from tests.test_exhibitor_mail import request
from tests.test_registration_mail import deliver, html_of, text_of, translated
from tests.test_registration_pages import parse

__all__ = ["smtp_server"]  # a fixture, imported for pytest


def test_every_value_has_one_name_and_the_api_takes_the_same_values():
    assert [value for value, _label in options.kinds()] == list(options.KIND_VALUES)
    assert [value for value, _label in options.features()] == list(options.FEATURE_VALUES)
    assert get_args(schemas.Kind) == options.KIND_VALUES
    assert get_args(schemas.Feature) == options.FEATURE_VALUES
    assert get_args(schemas.BookingStatus) == options.STATUS_VALUES
    for value in options.STATUS_VALUES:
        assert options.status_name(value) != value
        assert options.staff_status_name(value) != value


async def test_the_mail_names_kind_and_equipment_as_the_exhibitor_page_does(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    await make_stand(client, organiser, features=["power", "wall", "corner", "table"])
    _booking_id, manage = await request_and_confirm(
        client, pool, settings, kind="agency", wished_features=["wall"]
    )
    received = await deliver(pool, smtp_server)
    requested = received[-1].message
    assert requested["Content-Language"] == "de"

    page = parse((await client.get(f"/x/{manage}?lang=de")).text).text
    kind = translated("de", "Agency or public authority")  # "Fachstelle oder Behörde"
    wall = translated("de", "Wall (for posters)")  # "Stellwand (für Plakate)"
    assert kind in page
    for body in (text_of(requested), html_of(requested)):
        assert kind in body, body  # the mail said "Fachstelle"
        assert wall in body, body  # the mail said "Stellwand"


async def test_the_mail_names_the_status_as_the_exhibitor_page_does(
    client, organiser, pool, settings, smtp_server
):
    await make_conference(client, organiser)
    _booking_id, manage = await request_and_confirm(client, pool, settings)
    await deliver(pool, smtp_server)

    await request(client, organisation="Someone Else")  # the same address again
    [received] = await deliver(pool, smtp_server)
    page = parse((await client.get(f"/x/{manage}?lang=de")).text)
    status = page.by_id("status").text.strip()
    assert status == translated("de", "requested – the organisers are reviewing it")
    sentence = translated(
        "de",
        "Since there is already a booking for this address, no second request was made. "
        "The status of your booking: %(status)s.",
        status=status,
    )
    assert sentence in text_of(received.message)  # the mail said "in Prüfung"
