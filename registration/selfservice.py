"""The self-service page behind the link in every e-mail: status, ticket, calendar, cancel,
and the person's data: a download, and erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registration import calendar, logic, options, privacy, queries
from registration.lookups import BY_TOKEN, RegistrationRow
from registration.views import forums_available, links, registration_view, ticket_secret
from service.db import DB
from service.i18n import current_language
from service.i18n import gettext as _
from service.qr import qr_png, qr_svg
from service.ratelimit import per_client

LINK_LIMIT = per_client("links", 120)
ICS = "text/calendar; charset=utf-8"
# Personal pages: never cached by shared caches, never indexed.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


class SelfService(Controller):
    path = "/r/{token:str}"
    include_in_schema = False
    middleware = [LINK_LIMIT]
    dependencies = BY_TOKEN

    @get("/")
    async def page(self, db: DB, state: State, registration: RegistrationRow) -> Template:
        return await self._page(db, state, registration, "registration/manage.html")

    @get("/ticket")
    async def ticket_print(self, db: DB, state: State, registration: RegistrationRow) -> Template:
        if registration["status"] != "confirmed":
            raise NotFoundException(_("Only a confirmed registration has a ticket."))
        return await self._page(db, state, registration, "registration/ticket.html")

    @get("/ticket.svg")
    async def ticket_svg(self, state: State, registration: RegistrationRow) -> Response[str]:
        secret = self._secret(state, registration)
        return Response(
            qr_svg(secret, label=_("Ticket code")), media_type="image/svg+xml", headers=PRIVATE
        )

    @get("/ticket.png")
    async def ticket_png(self, state: State, registration: RegistrationRow) -> Response[bytes]:
        secret = self._secret(state, registration)
        return Response(qr_png(secret), media_type="image/png", headers=PRIVATE)

    @get("/calendar.ics")
    async def calendar_download(
        self, db: DB, state: State, registration: RegistrationRow
    ) -> Response[bytes]:
        body = await calendar.calendar_file(db, state.settings, registration, "PUBLISH")
        headers = {**PRIVATE, "Content-Disposition": 'attachment; filename="tagung.ics"'}
        return Response(body, media_type=ICS, headers=headers)

    @get("/feed.ics")
    async def calendar_feed(self, db: DB, state: State, token: FromPath[str]) -> Response[bytes]:
        """Subscribed to by calendar programs: always the current state. `token` is the feed's
        own read-only token (calendar.by_feed_token); every other path here refuses it."""
        registration = await calendar.by_feed_token(db, token)
        body = await calendar.calendar_file(
            db, state.settings, registration, "PUBLISH", read_only=True
        )
        return Response(body, media_type=ICS, headers=PRIVATE)

    @post("/language")
    async def change_language(
        self, request: Request, db: DB, token: FromPath[str], registration: RegistrationRow
    ) -> Redirect:
        language = (await request.form()).get("language")
        if language not in ("de", "en"):
            return Redirect(f"/r/{token}")
        await queries.set_language(db, registration["id"], language)
        # The page follows in the chosen language, with a note that it was saved.
        return Redirect(f"/r/{token}?lang={language}&saved=language")

    @get("/cancel")
    async def cancel_confirmation(
        self, db: DB, state: State, registration: RegistrationRow
    ) -> Template:
        return await self._page(db, state, registration, "registration/cancel.html")

    @post("/cancel")
    async def cancel(self, db: DB, token: FromPath[str], registration: RegistrationRow) -> Redirect:
        await logic.cancel(db, registration["id"])
        return Redirect(f"/r/{token}?cancelled=1")

    @get("/delete")
    async def erase_confirmation(
        self, db: DB, state: State, registration: RegistrationRow
    ) -> Template:
        return await self._page(db, state, registration, "registration/delete.html")

    @post("/delete")
    async def erase(self, db: DB, registration: RegistrationRow) -> Template:
        """Erasure (GDPR Art. 17): the place goes to the next person, then the data go."""
        conference = await queries.conference_slug_row(db, registration["conference_id"])
        await privacy.erase(db, registration["id"])
        return Template(
            "registration/erased.html",
            context={"conference": conference},
            media_type=MediaType.HTML,
            headers=PRIVATE,
        )

    @staticmethod
    def _secret(state: State, registration: Any) -> str:
        secret = ticket_secret(state.settings, registration)
        if secret is None:
            raise NotFoundException(_("Only a confirmed registration has a ticket."))
        return secret

    async def _page(self, db: DB, state: State, registration: Any, template: str) -> Template:
        conference = await queries.conference(db, registration["conference_id"])
        view = await registration_view(db, state.settings, registration)
        secret = view.ticket.secret if view.ticket else None
        return Template(
            template,
            context={
                "registration": registration,
                "view": view,
                "conference": conference,
                # The feed's address from the view: views.calendar_links stored its token.
                "links": {**links(state.settings, registration), "webcal": view.calendar_feed_url},
                "forums_available": forums_available(),
                "qr": qr_svg(secret, label=_("QR code of your ticket")) if secret else None,
                "secret": secret,
                "options": options,
                "current": current_language.get(),
                "ended": conference["ends_at"] <= datetime.now(UTC),
            },
            media_type=MediaType.HTML,
            headers=PRIVATE,
        )
