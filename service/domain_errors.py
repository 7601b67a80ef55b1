"""What the rules refuse, said in the rules' own words: the errors `logic.py` raises.

They know nothing of HTTP. service/errors.py answers each in one place: `NotFound` → 404,
`Conflict` and its kinds → 409, `FieldErrors` → 400 (409 when `taken`), as problem details for
the API and as the error page for the site; pages that show a refusal inside their own form
catch the kind they expect.
"""

from __future__ import annotations

from service.i18n import gettext as _


class DomainError(Exception):
    """A rule refused the request; `detail` says why, in the user's language."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """Nothing of that kind exists here (or not for this caller)."""


class Conflict(DomainError):
    """A valid request that is not possible now (full, closed, clash, taken, wrong state)."""


class Closed(Conflict):
    """Outside a window: registration closed, the conference over, sign-ups ended."""


class Full(Conflict):
    """No place left: seats, forum places, stand staff passes."""


class Clash(Conflict):
    """It collides with something the person already has (forum times)."""


class Taken(Conflict):
    """Someone else holds it already (a stand, an address)."""


class WrongState(Conflict):
    """The thing is not in a state that allows this (a booking already decided)."""


class FieldErrors(DomainError):
    """Input that breaks a rule the schema cannot express; `errors` maps field → message.
    `taken`: the input is valid but clashes with what exists (a slug already used): 409."""

    def __init__(self, errors: dict[str, str], *, taken: bool = False) -> None:
        super().__init__(" ".join(errors.values()) or _("Please correct the marked fields."))
        self.errors = errors
        self.taken = taken


def refusal(exc: DomainError) -> str:
    """The reason of a 409 refusal, for a page that shows it inside its own form; any other
    error (not found, invalid fields) goes on to the error page."""
    if isinstance(exc, Conflict) or (isinstance(exc, FieldErrors) and exc.taken):
        return exc.detail
    raise exc
