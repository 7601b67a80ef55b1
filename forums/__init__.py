"""Forums: parallel sessions with capacity, waiting lists, no clashes, change notices.

Public surface: `wire(settings)`, called by create_app (service/wiring.py).
"""

from pathlib import Path

from litestar import Router

from forums import logic, mails, queries
from forums.api import ForumAPI
from forums.attendance import AttendanceAPI
from forums.door import ForumDoorPage
from forums.pages import AttendeeForumPages, PublicForumPages
from forums.providers import attendance_for, calendar_events, signups_for
from forums.staff_pages import StaffForumPages
from registration import calendar as registration_calendar
from registration import logic as registration_logic
from registration import privacy as registration_privacy
from registration import views as registration_views
from service.settings import Settings
from service.wiring import Domain

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


def wire(settings: Settings) -> Domain:
    """The mail renderers, and what registration (which knows no forums) is handed: a
    cancelled person leaves their forums, their forum places, door visits and calendar
    entries; hands back the routes and templates."""
    mails.register_renderers(settings)
    registration_logic.on_cancelled(logic.registration_cancelled)
    registration_views.provide_forum_signups(signups_for)
    registration_views.provide_forum_attendance(queries.attendance_by_forum)
    registration_calendar.provide_events(calendar_events)
    # Forum mails are about a registration (ref_id): they go when the person is anonymised.
    registration_privacy.provide_mail_kinds("forum.")
    # The data export (Art. 15) lists where the forum doors saw the person.
    registration_privacy.provide_export("forum_attendance", attendance_for)
    return Domain(router, TEMPLATES)
