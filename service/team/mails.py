"""The invitation and password-reset mails: one outbox renderer per kind of service.team.logic.

The outbox row (ref_id = the link) holds no link: the renderer derives it at send time from the
link's salt and SECRET_KEY, so neither the outbox nor a copy of the database holds one that
works. A link used, run out or replaced by a newer one before its mail goes, or an account
deactivated meanwhile, makes the mail skipped instead of sent. Templates:
service/templates/mail/staff_*.txt|.html, with their own small layout (no conference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service import mail_render, tokens
from service.i18n import gettext as _
from service.mail_render import Mail, oneline
from service.outbox import OutboxMessage
from service.settings import Settings
from service.team import logic, queries


@dataclass(frozen=True)
class Source:
    language: str
    link: asyncpg.Record
    url: str
    expires_at: datetime
    base_url: str


async def _invitation(source: Source) -> Mail | None:
    link = source.link
    if link["has_password"]:
        return None
    inviter = oneline(link["inviter_name"] or link["inviter_email"], 200)
    return Mail(
        "staff_invitation",
        _("Your invitation to the staff area"),
        {"inviter": inviter},
    )


async def _password_reset(source: Source) -> Mail | None:
    return Mail("staff_password_reset", _("A new password for the staff area"))


BUILDERS = {logic.MAIL_INVITATION: _invitation, logic.MAIL_PASSWORD_RESET: _password_reset}


def register_renderers(settings: Settings) -> None:
    key = tokens.key_from_secret(settings.secret_key)

    async def load(db: asyncpg.Connection, message: OutboxMessage) -> Source | None:
        link = await queries.link_by_id(db, message.ref_id) if message.ref_id else None
        if link is None or link["used"] or link["expired"] or link["disabled"]:
            return None
        token = logic.link_token(key, link["purpose"], link["salt"])
        return Source(
            language=mail_render.message_language(message),
            link=link,
            url=settings.base_url + logic.link_path(link["purpose"], token),
            expires_at=link["expires_at"],
            base_url=settings.base_url,
        )

    mail_render.register_renderers(
        BUILDERS,
        load,
        context=lambda source: {
            "lang": source.language,
            "name": oneline(source.link["name"], 200),
            "email": source.link["email"],
            "url": source.url,
            "expires_at": source.expires_at,
            "login_url": f"{source.base_url}/staff/login",
            "reset_url": f"{source.base_url}/staff/reset",
        },
        recipient_name=lambda source: oneline(source.link["name"], 200),
        template_dirs=(),
    )
