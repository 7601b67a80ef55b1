"""How sizes, prices and stands read on the pages, in the page language (the mails have
their own wording, in the recipient's language: exhibitors.mails)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
from babel.numbers import format_currency, format_decimal

from exhibitors.options import feature_names
from service.i18n import current_language
from service.i18n import gettext as _


def metres(value: Any) -> str:
    """3, 2.5 (2,5 in German): a size as people write it."""
    return format_decimal(value, format="#,##0.##", locale=current_language.get())


def size(width: Any, depth: Any) -> str:
    return _("%(width)s × %(depth)s m", width=metres(width), depth=metres(depth))


def price(cents: int) -> str:
    if not cents:
        return _("free of charge")
    return format_currency(Decimal(cents) / 100, "EUR", locale=current_language.get())


def stand_choice(stand: asyncpg.Record) -> str:
    """How a stand is offered in a select: code, area, size, equipment, staff, price."""
    parts = [stand["code"]]
    if stand["area"]:
        parts.append(stand["area"])
    parts += [
        size(stand["width_m"], stand["depth_m"]),
        feature_names(list(stand["features"])),
        _("up to %(n)s staff", n=stand["max_staff"]),
        price(stand["price_cents"]),
    ]
    return " – ".join(parts)
