"""What the domains' outbox mail renderers share; no domain knowledge.

A domain (registration, forums, exhibitors) loads the rows a mail is about into its own source
object, and keeps one builder per kind that turns that source into a `Mail` (template name,
subject, context, images, attachments) or None when the mail no longer fits. `renderer` wraps
the two into an outbox.Renderer: it switches `current_language` to the recipient's language
around the builder and the templates, renders text + HTML from `mail/<template>.txt|.html`, and
composes the message (service.mail) for the outbox row's recipient and Message-ID.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from jinja2 import Environment

from service import outbox
from service.i18n import DEFAULT_LANGUAGE, LANGUAGES, current_language
from service.mail import Attachment, InlineImage, compose, header_text
from service.outbox import OutboxMessage
from service.templating import build_environment

__all__ = [
    "Attachment",
    "InlineImage",
    "Mail",
    "conference_context",
    "environment",
    "message_language",
    "oneline",
    "register_renderers",
    "render_bodies",
    "renderer",
    "same_day",
]

_EMPTY_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")


@dataclass
class Mail:
    """What one kind says; `template` names mail/<template>.txt and mail/<template>.html."""

    template: str
    subject: str
    context: dict[str, Any] = field(default_factory=dict)
    inline_images: list[InlineImage] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


class Source(Protocol):
    """What the renderer needs of a domain's source: the language the mail is written in."""

    @property
    def language(self) -> str: ...


S = TypeVar("S", bound=Source)


@cache
def environment(*template_dirs: Path) -> Environment:
    """One environment per list of template folders, searched in that order (after the shared
    ones): a domain names its mails so that no `mail/…` name is ambiguous. `.html` is
    autoescaped, `.txt` is not (service.templating's select_autoescape)."""
    return build_environment(list(template_dirs))


def render_bodies(env: Environment, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """(text, html) of mail/<template>; the caller has set current_language."""
    text = env.get_template(f"mail/{template}.txt").render(context)
    html = env.get_template(f"mail/{template}.html").render(context)
    # Templates may leave runs of empty lines where parts are left out: one is enough.
    return _EMPTY_LINES.sub("\n\n", text).strip() + "\n", html


def oneline(value: str | None, limit: int = 500) -> str:
    """A name, title or address as one line of text: CR/LF and other breaks become spaces
    (the HTML escapes the rest; headers are cleaned by service.mail on their own)."""
    return header_text(value or "", limit=limit)


def same_day(starts: datetime, ends: datetime, timezone: str) -> bool:
    """Whether start and end fall on one calendar day where the event takes place."""
    zone = ZoneInfo(timezone)
    return starts.astimezone(zone).date() == ends.astimezone(zone).date()


def conference_context(conference: Mapping[str, Any]) -> dict[str, Any]:
    """What the mail layout and parts read from `conference`."""
    starts, ends = conference["starts_at"], conference["ends_at"]
    return {
        "title": oneline(conference["title"]),
        "venue": oneline(conference["venue"]),
        "address": oneline(conference["address"]),
        "starts_at": starts,
        "ends_at": ends,
        "timezone": conference["timezone"],
        "same_day": same_day(starts, ends, conference["timezone"]),
        "slug": conference["slug"],
    }


def privacy_url(base_url: str, conference: Mapping[str, Any]) -> str:
    """The conference's privacy notice, named at the foot of every mail (GDPR Art. 13/14)."""
    return f"{base_url}/conferences/{conference['slug']}/privacy"


def message_language(message: OutboxMessage) -> str:
    """The outbox row's language, or the default for one no longer offered."""
    return message.language if message.language in LANGUAGES else DEFAULT_LANGUAGE


def renderer(
    load: Callable[[asyncpg.Connection, OutboxMessage], Awaitable[S | None]],
    build: Callable[[S], Awaitable[Mail | None]],
    *,
    context: Callable[[S], dict[str, Any]],
    recipient_name: Callable[[S], str],
    template_dirs: Sequence[Path],
    sender: Address | str | None = None,
) -> outbox.Renderer:
    """The outbox renderer of one kind: `load` reads the rows as they are now (None when they
    are gone), `build` says what the kind says (None: skipped), `context` is what every mail
    of the domain gets (the kind's own context wins)."""

    async def render(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage | None:
        source = await load(db, message)
        if source is None:
            return None
        language = source.language
        reset = current_language.set(language)
        try:
            mail = await build(source)
            if mail is None:
                return None
            values = {**context(source), **mail.context, "subject": mail.subject}
            text, html = render_bodies(environment(*template_dirs), mail.template, values)
        finally:
            current_language.reset(reset)
        return compose(
            to_name=recipient_name(source),
            to_email=message.recipient,
            subject=mail.subject,
            text=text,
            html=html,
            message_id=message.message_id,
            language=language,
            inline_images=mail.inline_images,
            attachments=mail.attachments,
            sender=sender,
        )

    return render


def register_renderers(
    builders: Mapping[str, Callable[[S], Awaitable[Mail | None]]],
    load: Callable[[asyncpg.Connection, OutboxMessage], Awaitable[S | None]],
    *,
    context: Callable[[S], dict[str, Any]],
    recipient_name: Callable[[S], str],
    template_dirs: Sequence[Path],
) -> None:
    """Wiring: one outbox renderer per kind of the domain, all with the same `load`."""
    for kind, build in builders.items():
        outbox.register_renderer(
            kind,
            renderer(
                load,
                build,
                context=context,
                recipient_name=recipient_name,
                template_dirs=template_dirs,
            ),
        )
