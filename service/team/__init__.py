"""Staff accounts in the web UI and the JSON API: the team (admins invite, change, deactivate),
the links of invitation and password-reset mails, and one's own account (password, API tokens).

Part of the shell, like service.conferences: `wire(settings)` registers the two mail renderers
and hands back the `router`; create_app mounts it. Importing registers nothing.
"""

from litestar import Router

from service.settings import Settings
from service.team.api import AccountAPI, TeamAPI
from service.team.pages import AccountPages, LinkPages, TeamPages

router = Router(path="/", route_handlers=[TeamAPI, AccountAPI, TeamPages, LinkPages, AccountPages])


def wire(settings: Settings) -> Router:
    """The invitation and reset mails' renderers (they need SECRET_KEY and BASE_URL for the
    links); returns the router to mount."""
    from service.team import mails

    mails.register_renderers(settings)
    return router
