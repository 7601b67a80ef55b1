"""Market of opportunities: stand catalogue, floor plan, booking workflow, staff passes,
public directory. Public surface: `wire(settings)`, called by create_app (service/wiring.py)."""

from pathlib import Path

from litestar import Router

from exhibitors.api import BookingAPI, DirectoryAPI, ReviewAPI, StandAPI
from exhibitors.pages import ExhibitorRequestPages, ExhibitorSelfService
from exhibitors.privacy import ExhibitorPrivacyAPI, ExhibitorPrivacyPages
from exhibitors.public_pages import PublicExhibitorPages
from exhibitors.staff_pages import StaffExhibitorPages, StaffStandPages
from service.settings import Settings
from service.wiring import Domain

TEMPLATES = Path(__file__).parent / "templates"
router = Router(
    path="/",
    route_handlers=[
        StandAPI,
        BookingAPI,
        ReviewAPI,
        DirectoryAPI,
        PublicExhibitorPages,
        ExhibitorRequestPages,
        ExhibitorSelfService,
        ExhibitorPrivacyAPI,
        ExhibitorPrivacyPages,
        StaffStandPages,
        StaffExhibitorPages,
    ],
)


def wire(settings: Settings) -> Domain:
    """The e-mail renderers, and the confirmer for the shared page `/confirm/{token}`
    (registration's; it must not import this domain, so this domain hands it over); hands
    back the routes and templates."""
    import asyncpg

    from exhibitors import logic, mails
    from registration import pages
    from registration.views import token_key
    from service.domain_errors import NotFound

    mails.register_renderers(settings)

    async def confirm_booking(db: asyncpg.Connection, settings: Settings, token: str) -> str | None:
        """An exhibitor's confirmation token → the exhibitor page; None for any other."""
        try:
            _status, manage = await logic.confirm(db, token_key(settings), token)
        except NotFound:
            return None
        return f"/x/{manage}?confirmed=1"

    pages.provide_confirmer(confirm_booking)
    return Domain(router, TEMPLATES)
