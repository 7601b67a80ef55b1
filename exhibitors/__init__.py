"""Market of opportunities: stand catalogue, floor plan, booking workflow, staff passes,
public directory. Public surface: `router`, `TEMPLATES`, `wire(settings)`."""

from pathlib import Path

from litestar import Router

from exhibitors.api import BookingAPI, DirectoryAPI, ReviewAPI, StandAPI
from service.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
router = Router(path="/", route_handlers=[StandAPI, BookingAPI, ReviewAPI, DirectoryAPI])


def wire(settings: Settings) -> None:
    """Nothing to hand over yet; mail renderers and the confirm page hook come here."""
