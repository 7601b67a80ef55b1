"""The choices on the registration form, with their labels in the visitor's language."""

from __future__ import annotations

from service.i18n import gettext as _

CATEGORY_VALUES = ("volunteer", "full_time_staff", "association", "speaker", "press")
ACCESSIBILITY_VALUES = (
    "wheelchair",
    "step_free",
    "sign_language",
    "induction_loop",
    "easy_language",
    "other",
)
DIET_VALUES = ("vegetarian", "vegan", "halal", "kosher", "gluten_free", "lactose_free", "other")


def categories() -> list[tuple[str, str]]:
    return [
        ("volunteer", _("Volunteer")),
        ("full_time_staff", _("Full-time staff")),
        ("association", _("Representative of an association")),
        ("speaker", _("Speaker")),
        ("press", _("Press")),
    ]


def category_name(value: str) -> str:
    return dict([*categories(), ("exhibitor_staff", _("Exhibitor staff"))]).get(value, value)


def accessibility() -> list[tuple[str, str]]:
    return [
        ("wheelchair", _("Wheelchair place")),
        ("step_free", _("Step-free access")),
        ("sign_language", _("Sign-language interpreting (DGS)")),
        ("induction_loop", _("Induction loop")),
        ("easy_language", _("Material in easy language")),
        ("other", _("Other (please describe below)")),
    ]


def diets() -> list[tuple[str, str]]:
    return [
        ("vegetarian", _("Vegetarian")),
        ("vegan", _("Vegan")),
        ("halal", _("Halal")),
        ("kosher", _("Kosher")),
        ("gluten_free", _("Gluten-free")),
        ("lactose_free", _("Lactose-free")),
        ("other", _("Other (please describe below)")),
    ]


def status_name(value: str) -> str:
    return {
        "pending_confirmation": _("waiting for confirmation of the e-mail address"),
        "confirmed": _("confirmed"),
        "waitlisted": _("on the waiting list"),
        "cancelled": _("cancelled"),
    }.get(value, value)
