"""Conferences and their programme: the JSON API, public pages and staff forms."""

from litestar import Router

from service.conferences.api import ConferenceAPI
from service.conferences.pages import PublicPages, StaffConferencePages

api_router = Router(path="/", route_handlers=[ConferenceAPI])
pages_router = Router(path="/", route_handlers=[PublicPages, StaffConferencePages])
