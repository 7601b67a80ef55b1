"""HTML: the registration form, the confirmation page, the privacy notice.

The confirmation page `/confirm/{token}` is shared: the links in other domains' mails (the
exhibitors' booking requests) lead there too. Registration does not know those domains; they
hand it a confirmer at wiring time with `provide_confirmer`, and the button tries them in turn
when the token is not a registration's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect, Template

from registration import logic, options, queries
from registration.views import token_key
from service import tokens
from service.conferences.lookups import PUBLIC, ConferenceRow
from service.db import DB
from service.domain_errors import Closed, Conflict, FieldErrors, NotFound
from service.forms import Form
from service.i18n import current_language
from service.ratelimit import per_client
from service.settings import Settings

REGISTRATION_LIMIT = per_client("registration-form", 30)
LINK_LIMIT = per_client("links", 120)

# (db, settings, token) -> where the confirmed party goes next, or None: not my token.
Confirmer = Callable[[asyncpg.Connection, Settings, str], Awaitable[str | None]]
_other_confirmers: list[Confirmer] = []


def provide_confirmer(confirmer: Confirmer) -> None:
    """Wiring: another domain confirms its own tokens on the shared confirmation page. The
    same function provided again (create_app runs more than once in a process) replaces its
    earlier registration instead of being asked twice."""
    name = (confirmer.__module__, confirmer.__qualname__)
    _other_confirmers[:] = [c for c in _other_confirmers if (c.__module__, c.__qualname__) != name]
    _other_confirmers.append(confirmer)


def _page(template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("fields", {})
    context.setdefault("options", options)
    return Template(template, context=context, status_code=status, media_type=MediaType.HTML)


def _form_names(errors: dict[str, str]) -> dict[str, str]:
    """Error keys of the logic ("consents.privacy") as the form's field names."""
    return {name.replace("consents.", "consent_"): message for name, message in errors.items()}


def read_form(form: Form) -> tuple[dict[str, Any], dict[str, bool]]:
    form.name("name", required=True)
    form.email("email", required=True)
    form.name("organisation", kind="organisation_name")
    form.choice("category", options.CATEGORY_VALUES)
    form.choice("language", ("de", "en"))
    accessibility = form.choices("accessibility", options.ACCESSIBILITY_VALUES, at_least=0)
    interpretation = form.text("interpretation", max_length=60)
    dietary = form.choices("dietary", options.DIET_VALUES, at_least=0)
    notes = form.text("notes", max_length=1000)
    needs = {
        "accessibility": accessibility,
        "interpretation": interpretation or None,
        "dietary": dietary,
        "notes": notes,
    }
    needs_given = bool(accessibility or interpretation or dietary or notes)
    consents = {
        kind: form.checkbox(f"consent_{kind}") for kind in ("privacy", "special_category", "photos")
    }
    for field, message in _form_names(logic.consent_errors(consents, needs_given)).items():
        form.errors.setdefault(field, message)
    fields = {
        k: form.values.get(k) for k in ("name", "email", "organisation", "category", "language")
    }
    fields["needs"] = needs if needs_given else {}
    return fields, consents


def _privacy_notice(settings: Settings, conference: asyncpg.Record | None) -> Template:
    return _page(
        "registration/privacy.html",
        conference=conference,
        privacy=settings.privacy,
        retention_days=settings.retention_days,
        versions=logic.CONSENT_TEXT_VERSIONS,
    )


async def _confirmation_closed(
    db: asyncpg.Connection, closed: logic.ConfirmationClosed
) -> Template:
    """Registration closed (or the conference ended) before the link was used: say so, and
    what the person can still do. The holder of the link may learn which conference it is."""
    conference = await queries.conference_with_end(db, closed.conference_id)
    return _page("registration/confirm_closed.html", 409, conference=conference)


class RegistrationPages(Controller):
    include_in_schema = False

    @get("/conferences/{slug:str}/register", dependencies=PUBLIC)
    async def form(self, conference: ConferenceRow) -> Template:
        return _page(
            "registration/form.html",
            conference=conference,
            fields={"language": current_language.get()},
            closed=self._closed_reason(conference),
        )

    @post("/conferences/{slug:str}/register", middleware=[REGISTRATION_LIMIT], dependencies=PUBLIC)
    async def submit(
        self,
        request: Request,
        db: DB,
        state: State,
        slug: FromPath[str],
        conference: ConferenceRow,
    ) -> Any:
        closed = self._closed_reason(conference)
        if closed:  # before or after the window: say so, whatever was sent
            return _page("registration/form.html", 409, conference=conference, closed=closed)
        form = Form(await request.form())
        fields, consents = read_form(form)
        if form.valid:
            try:
                await logic.register(db, token_key(state.settings), slug, fields, consents)
                return _page(
                    "registration/check_inbox.html", conference=conference, email=fields["email"]
                )
            except FieldErrors as exc:
                form.errors.update(_form_names(exc.errors))
            except Conflict as exc:
                return _page(
                    "registration/form.html", 409, conference=conference, closed=exc.detail
                )
        return _page(
            "registration/form.html",
            400,
            conference=conference,
            fields=form.values,
            errors=form.errors,
            closed=None,
        )

    @get("/privacy")
    async def privacy(self, state: State) -> Template:
        """The privacy notice (GDPR Art. 13), linked from every page's footer."""
        return _privacy_notice(state.settings, None)

    @get("/conferences/{slug:str}/privacy", dependencies=PUBLIC)
    async def conference_privacy(self, state: State, conference: ConferenceRow) -> Template:
        """The same notice, naming the conference: linked from its forms."""
        return _privacy_notice(state.settings, conference)

    @get("/confirm/{token:str}", middleware=[LINK_LIMIT])
    async def confirm_page(self, token: FromPath[str]) -> Template:
        # Only a button here: mail scanners that open links must not confirm anything. The
        # page looks the same for every well-formed token (it reveals nothing; the button
        # answers); what cannot be a token at all gets the invalid-link page at once.
        if not tokens.looks_valid(token):
            raise logic.invalid_link()
        return _page("registration/confirm.html", token=tokens.normalise(token))

    @post("/confirm/{token:str}", middleware=[LINK_LIMIT])
    async def confirm(self, db: DB, state: State, token: FromPath[str]) -> Redirect | Template:
        try:
            _status, manage_token = await logic.confirm(db, token_key(state.settings), token)
        except logic.ConfirmationClosed as closed:
            return await _confirmation_closed(db, closed)
        except NotFound:
            # Not a registration's token: perhaps another domain's (each tries only its own
            # kind); if none knows it, the same invalid-link answer.
            for confirmer in _other_confirmers:
                url = await confirmer(db, state.settings, token)
                if url is not None:
                    return Redirect(url)
            raise
        return Redirect(f"/r/{manage_token}?confirmed=1")

    @staticmethod
    def _closed_reason(conference) -> str | None:  # type: ignore[no-untyped-def]
        try:
            logic.check_window(conference)
        except Closed as exc:
            return exc.detail
        return None
