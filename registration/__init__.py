"""Attendees: registration with double opt-in, waiting list, tickets, self-service; the
entrance (check-in, scanner, dashboard) is the sub-package `registration.entrance`.

Public surface for other domains: `router`, `TEMPLATES`, `issue_pass`/`withdraw_pass` (for
exhibitors' stand staff), `logic.on_cancelled`, and the provider hooks
`registration.views.provide_forum_signups` and `registration.calendar.provide_events`.
"""

from pathlib import Path

from litestar import Router

from registration import logic  # noqa: F401  (registers the conference-change handler)
from registration.api import RegistrationAPI
from registration.entrance import CONTROLLERS as ENTRANCE
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

__all__ = ["TEMPLATES", "issue_pass", "router", "withdraw_pass"]
