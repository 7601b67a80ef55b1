"""GET /accessibility: the accessibility statement (Erklärung zur Barrierefreiheit, § 12b BGG,
§ 7 BITV 2.0), built from the ACCESSIBILITY_* settings and linked from every page's footer."""

from __future__ import annotations

from babel.dates import format_date
from litestar import MediaType, Router, get
from litestar.datastructures import State
from litestar.response import Template

from service.i18n import current_language


@get("/accessibility", include_in_schema=False)
async def accessibility_statement(state: State) -> Template:
    settings = state.settings
    statement = settings.accessibility
    return Template(
        "accessibility.html",
        context={
            "statement": statement,
            "statement_day": format_date(
                statement.statement_date, format="long", locale=current_language.get()
            ),
            "feedback_email": settings.accessibility_feedback_email,
            "controller": settings.privacy.controller,
            "site_url": settings.base_url,
        },
        media_type=MediaType.HTML,
    )


router = Router(path="/", route_handlers=[accessibility_statement])
