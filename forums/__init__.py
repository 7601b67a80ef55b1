"""Forums: parallel sessions with capacity, waiting lists, no clashes, change notices.

Public surface: `router`, `TEMPLATES`, `wire(settings)` (hands providers to registration).
"""

from pathlib import Path

from litestar import Router

from forums import (
    logic,  # noqa: F401  (registers the registration-cancelled handler)
    queries,
)
from forums.api import ForumAPI
from forums.attendance import AttendanceAPI
from forums.door import ForumDoorPage
from forums.pages import AttendeeForumPages, PublicForumPages
from forums.providers import attendance_for, calendar_events, signups_for
from forums.staff_pages import StaffForumPages
from registration import calendar as registration_calendar
from registration import privacy as registration_privacy
from registration import views as registration_views
from service.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
router = Router(
    path="/",
    route_handlers=[
        ForumAPI,
        AttendanceAPI,
        AttendeeForumPages,
        PublicForumPages,
        StaffForumPages,
        ForumDoorPage,
    ],
)


def wire(settings: Settings) -> None:
    registration_views.provide_forum_signups(signups_for)
    registration_views.provide_forum_attendance(queries.attendance_by_forum)
    registration_calendar.provide_events(calendar_events)
    # Forum mails are about a registration (ref_id): they go when the person is anonymised.
    registration_privacy.provide_mail_kinds("forum.")
    # The data export (Art. 15) lists where the forum doors saw the person.
    registration_privacy.provide_export("forum_attendance", attendance_for)
