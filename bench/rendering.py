"""Rendering per ticket, in microseconds: the QR code as PNG (e-mail) and SVG (ticket page),
and the calendar file (the invite in the ticket mail, the download).

service.qr caches both QR renderers with functools.lru_cache (4,096 entries each, keyed by the
ticket secret and the size or label): "uncached" calls the function under the cache
(`__wrapped__`), "cached" calls it again with the same arguments. Calendar files are built
anew on every call (no cache). Each figure is the best of 5 timeit repeats, as µs per call.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from bench.data import at
from bench.harness import Row, progress
from service import tokens
from service.ical import CalendarEvent, build_calendar
from service.qr import qr_png, qr_svg

SECRET = tokens.derive(b"k" * 32, "ticket", b"s" * 16)
EVENT = CalendarEvent(
    uid="registration-4711@tagung.example",
    sequence=0,
    summary="5. Integrationskonferenz: Werkstatt Bürgerschaftliches Engagement",
    starts_at=at(9, 30),
    ends_at=at(17),
    location="Convention Center Hannover, Messegelände, 30521 Hannover",
    description="Eröffnung, Foren, Markt der Möglichkeiten.\n\nhttps://tagung.example/r/X",
    url="https://tagung.example/r/X",
    organizer_email="konferenz@tagung.example",
    organizer_name="Bündnis „Niedersachsen packt an!“",
    attendee_email="aylin@example.org",
    attendee_name="Aylin Demir",
)


def _us(call: Callable[[], object], budget: float = 0.25) -> float:
    """Best of 5 repeats, each about `budget` seconds, in µs per call."""
    timer = timeit.Timer(call)
    number, taken = timer.autorange()
    number = max(1, int(number * budget / max(taken, 1e-9)))
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


async def run() -> list[Row]:
    progress("rendering: QR PNG/SVG and calendar files, timeit")
    png_uncached = _us(lambda: qr_png.__wrapped__(SECRET))
    qr_png(SECRET)
    png_cached = _us(lambda: qr_png(SECRET))
    svg_uncached = _us(lambda: qr_svg.__wrapped__(SECRET, "Ticket"))
    qr_svg(SECRET, "Ticket")
    svg_cached = _us(lambda: qr_svg(SECRET, "Ticket"))
    invite = _us(lambda: build_calendar([EVENT], method="REQUEST"))
    download = _us(lambda: build_calendar([EVENT], method="PUBLISH", name="Fachtag"))
    sizes = (
        len(qr_png(SECRET)),
        len(qr_svg(SECRET, "Ticket")),
        len(build_calendar([EVENT], method="REQUEST")),
    )
    return [
        (
            "QR PNG (e-mail), per ticket",
            f"{png_uncached:,.0f} µs uncached, {png_cached:.2f} µs cached ({sizes[0]:,} bytes)",
        ),
        (
            "QR SVG (ticket page), per ticket",
            f"{svg_uncached:,.0f} µs uncached, {svg_cached:.2f} µs cached ({sizes[1]:,} bytes)",
        ),
        (
            "calendar invite (REQUEST), per ticket",
            f"{invite:,.0f} µs, not cached ({sizes[2]:,} bytes)",
        ),
        ("calendar download (PUBLISH)", f"{download:,.0f} µs, not cached"),
    ]
