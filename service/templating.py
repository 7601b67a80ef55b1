"""Jinja2 set up once for every domain: shared layout, translations, date filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine as _Engine
from litestar.template.config import TemplateConfig

from service import i18n, tokens

SERVICE_TEMPLATES = Path(__file__).parent / "templates"


def _gettext(message: str) -> str:
    return i18n.translations(i18n.current_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current_language.get()).ngettext(singular, plural, n)


def language_url(request: Any, language: str) -> str:
    """The current page in another language, keeping the rest of the query (e.g. `next`)."""
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    return "?" + urlencode({**query, "lang": language})


def build_environment(template_dirs: list[Path]) -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(str(d)) for d in [SERVICE_TEMPLATES, *template_dirs]]
        ),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        current_language=i18n.current_language.get,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        language_url=language_url,
    )
    env.filters.update(
        day=i18n.format_day,
        clock=i18n.format_clock,
        moment=i18n.format_moment,
        grouped=tokens.grouped,
    )
    return env


def template_config(template_dirs: list[Path]) -> TemplateConfig:
    env = build_environment(template_dirs)
    return TemplateConfig(instance=_Engine.from_environment(env))
