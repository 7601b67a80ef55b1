"""Attendees: registration with double opt-in, waiting list, tickets, self-service; the
entrance (check-in, scanner, dashboard) is the sub-package `registration.entrance`.

Public surface for other domains: `router`, `TEMPLATES`, `issue_pass`/`withdraw_pass` (for
exhibitors' stand staff), `REGISTRATION_BY_TOKEN`/`RegistrationRow` (the dependency that hands
a handler the registration its self-service link names), `logic.on_cancelled`, and the hooks
`registration.views.provide_forum_signups` and `registration.calendar.provide_events`.
"""

from pathlib import Path

from litestar import Router

from registration import logic  # noqa: F401  (registers the conference-change handler)
from registration.api import RegistrationAPI
from registration.entrance import CONTROLLERS as ENTRANCE
from registration.lookups import BY_TOKEN as REGISTRATION_BY_TOKEN
from registration.lookups import RegistrationRow
from registration.pages import RegistrationPages
from registration.passes import issue_pass, withdraw_pass
from registration.selfservice import SelfService
from registration.staff_api import RegistrationStaffAPI
from registration.staff_pages import RegistrationStaffPages

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

__all__ = [
    "REGISTRATION_BY_TOKEN",
    "TEMPLATES",
    "RegistrationRow",
    "issue_pass",
    "router",
    "withdraw_pass",
]
