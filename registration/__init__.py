"""Attendees: registration with double opt-in, waiting list, tickets, self-service; the
entrance (check-in, scanner, dashboard) is the sub-package `registration.entrance`.

For the shell: `wire(settings)`, called by create_app (service/wiring.py), registers the mail
renderers and the reaction to a changed conference and hands back the routes and templates.

For forums and exhibitors (REGISTRATION_PUBLIC in tests/test_architecture.py; everything else,
queries and the entrance among it, is registration's inside):
- this package: `issue_pass` / `withdraw_pass` (an exhibitor's stand staff),
  `REGISTRATION_BY_TOKEN` / `RegistrationRow` (the dependency that hands a handler the
  registration its self-service link names);
- `registration.logic`: `by_id`, `by_manage_token`, `check_window`, `token`,
  `CONSENT_TEXT_VERSIONS`, and the hook `on_cancelled`;
- `registration.views`: `token_key`, `links`, and the hooks `provide_forum_signups` /
  `provide_forum_attendance`; `registration.calendar`: the hook `provide_events`;
- `registration.privacy`: `anonymise`, `Erased`, and the hooks `provide_mail_kinds` /
  `provide_export`; `registration.pages`: the hook `provide_confirmer`;
- `registration.options.category_name`; `registration.mails.TEMPLATES` (the mail layout).
"""

from pathlib import Path

from litestar import Router

from registration import logic, mails
from registration.api import RegistrationAPI
from registration.entrance import CONTROLLERS as ENTRANCE
from registration.entrance import SCAN_ROUTE
from registration.lookups import BY_TOKEN as REGISTRATION_BY_TOKEN
from registration.lookups import RegistrationRow
from registration.pages import RegistrationPages
from registration.passes import issue_pass, withdraw_pass
from registration.selfservice import SelfService
from registration.staff_api import RegistrationStaffAPI
from registration.staff_pages import RegistrationStaffPages
from service import events
from service.settings import Settings
from service.wiring import Domain

TEMPLATES = Path(__file__).parent / "templates"
router = Router(
    path="/",
    route_handlers=[
        RegistrationAPI,
        RegistrationPages,
        SelfService,
        RegistrationStaffAPI,
        RegistrationStaffPages,
        *ENTRANCE,
    ],
)


def wire(settings: Settings) -> Domain:
    """The mail renderers, and what follows a changed conference (promotions after the
    capacity grew, updated invitations); hands back the routes and templates."""
    mails.register_renderers(settings)
    events.on_conference_changed(logic.conference_changed)
    return Domain(router, TEMPLATES, device_routes=frozenset({SCAN_ROUTE}))


__all__ = [
    "REGISTRATION_BY_TOKEN",
    "TEMPLATES",
    "RegistrationRow",
    "issue_pass",
    "router",
    "wire",
    "withdraw_pass",
]
