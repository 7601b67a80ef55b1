"""JSON API for attendees (keyed by their self-service token) and for staff."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from registration import logic, privacy, queries
from registration.lookups import BY_TOKEN, RegistrationRow
from registration.privacy import Erased
from registration.schemas import (
    Accepted,
    Cancelled,
    Confirmed,
    ConfirmRequest,
    LanguageChange,
    Registration,
    RegistrationCreate,
)
from registration.views import registration_view, token_key
from service.db import DB
from service.ratelimit import per_client

REGISTRATION_LIMIT = per_client("registration", 30)
LINK_LIMIT = per_client("links", 120)


class RegistrationAPI(Controller):
    path = "/api/v1"
    tags = ["registration"]
    dependencies = BY_TOKEN

    @post(
        "/conferences/{slug:str}/registrations",
        status_code=HTTP_202_ACCEPTED,
        middleware=[REGISTRATION_LIMIT],
        summary="Register for a conference (double opt-in: a confirmation e-mail goes out)",
        description="The same answer whether the address is new or already registered.",
    )
    async def register(
        self, db: DB, state: State, slug: FromPath[str], data: JSONBody[RegistrationCreate]
    ) -> Accepted:
        needs = data.needs if data.needs is not None and data.needs.given() else None
        fields = {
            "name": data.name,
            "email": data.email,
            "organisation": data.organisation.strip(),
            "category": data.category,
            "language": data.language,
            "needs": msgspec.to_builtins(needs) if needs else {},
        }
        await logic.register(
            db, token_key(state.settings), slug, fields, msgspec.to_builtins(data.consents)
        )
        return Accepted()

    @post(
        "/registrations/confirm",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Confirm an e-mail address with the token from the confirmation link",
    )
    async def confirm(self, db: DB, state: State, data: JSONBody[ConfirmRequest]) -> Confirmed:
        status, manage_token = await logic.confirm(db, token_key(state.settings), data.token)
        return Confirmed(status=status, manage_token=manage_token)  # type: ignore[arg-type]

    @get(
        "/registrations/{token:str}",
        middleware=[LINK_LIMIT],
        summary="One's own registration: status, ticket, waiting-list place, forums",
    )
    async def show(self, db: DB, state: State, registration: RegistrationRow) -> Registration:
        return await registration_view(db, state.settings, registration)

    @patch(
        "/registrations/{token:str}",
        middleware=[LINK_LIMIT],
        summary="Change the language of one's e-mails and pages",
    )
    async def change(
        self, db: DB, state: State, token: FromPath[str], data: JSONBody[LanguageChange]
    ) -> Registration:
        # By hand: Litestar resolves a dependency before it validates the body (lookups.py).
        registration = await logic.by_manage_token(db, token)
        await queries.set_language(db, registration["id"], data.language)
        registration = await queries.by_id(db, registration["id"])
        return await registration_view(db, state.settings, registration)

    @get(
        "/registrations/{token:str}/export",
        middleware=[LINK_LIMIT],
        summary="Everything stored about oneself, as JSON (GDPR Art. 15 and 20)",
    )
    async def export(self, db: DB, registration: RegistrationRow) -> Response[dict[str, Any]]:
        return Response(
            await privacy.export(db, registration),
            headers={
                "Content-Disposition": 'attachment; filename="tagung-data.json"',
                "Cache-Control": "private, no-store",
            },
        )

    @post(
        "/registrations/{token:str}/erase",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Cancel and erase one's registration (GDPR Art. 17)",
        description=(
            "Cancels first (the place and any forum seats go to those waiting), then deletes "
            "name, e-mail address, organisation, needs, consents and the mails about the "
            "registration; mails not yet sent are dropped. The link and the ticket stop "
            "working, so a second call gets 404."
        ),
    )
    async def erase(self, db: DB, registration: RegistrationRow) -> Erased:
        await privacy.erase(db, registration["id"])
        return Erased()

    @delete(
        "/registrations/{token:str}",
        status_code=200,
        middleware=[LINK_LIMIT],
        summary="Cancel one's registration (again: the same answer)",
    )
    async def cancel(self, db: DB, registration: RegistrationRow) -> Cancelled:
        await logic.cancel(db, registration["id"])
        return Cancelled()
