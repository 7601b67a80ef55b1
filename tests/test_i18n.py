"""Languages: the German catalogue is complete, and each request gets the language it asks for.

German is the default; English comes from `?lang=en` (remembered in the `lang` cookie), from that
cookie, or from Accept-Language. Error answers, API and HTML alike, speak the same language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from httpx import Response
from litestar.testing import AsyncTestClient

from service import i18n
from service.settings import PROJECT_ROOT
from tests.conftest import StaffAccount, conference_payload

LOCALE_DIR = PROJECT_ROOT / "service" / "locale"
DE_PO = LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"

# The same extraction as `make messages` (keep the two in step).
EXTRACT_KEYWORDS = ["-k", "lazy", "-k", "_", "-k", "gettext", "-k", "ngettext:1,2"]
EXTRACT_SOURCES = ["service", "forums", "registration", "exhibitors"]

PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")
PLACEHOLDER_NAME = re.compile(r"%\((\w+)\)")
HTML_LANG = re.compile(r'<html lang="([a-z]{2})"')


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def extracted_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """Extracts the messages from code and templates, as `make messages` does."""
    pot = tmp_path / "messages.pot"
    monkeypatch.chdir(PROJECT_ROOT)
    sources = [name for name in EXTRACT_SOURCES if (PROJECT_ROOT / name).is_dir()]
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "--no-location",
            "--omit-header",
            "-F",
            "babel.cfg",
            *EXTRACT_KEYWORDS,
            "-o",
            str(pot),
            *sources,
        ]
    )
    messages = [m for m in read_catalogue(pot) if m.id]
    assert messages, "the extraction found no messages at all"
    return messages


def describe(message: Message) -> str:
    return " | ".join(forms(message.id))


# ---------------------------------------------------------------------------------------------
# The catalogues


@pytest.mark.parametrize(("path", "language"), [(DE_PO, "de"), (EN_PO, "en")])
def test_catalogue_header_is_valid(path: Path, language: str) -> None:
    catalogue = read_catalogue(path)
    assert str(catalogue.locale) == language
    headers = dict(catalogue.mime_headers)
    assert headers["Language"] == language
    assert headers["Plural-Forms"].replace(" ", "") == "nplurals=2;plural=(n!=1);"
    assert "charset=utf-8" in headers["Content-Type"].lower()
    assert catalogue.num_plurals == 2


def test_every_message_in_code_and_templates_has_a_german_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    german = read_catalogue(DE_PO, "de")
    problems = []
    for source in extracted_messages(tmp_path, monkeypatch):
        entry = german.get(source.id)
        if entry is None or entry.id != source.id:
            problems.append(f"not in the catalogue (run `make messages`): {describe(source)}")
            continue
        if entry.fuzzy:
            problems.append(f"marked fuzzy: {describe(source)}")
        translations = forms(entry.string)
        ids = forms(source.id)
        if len(ids) > 1 and len(translations) != german.num_plurals:
            problems.append(f"needs {german.num_plurals} plural forms: {describe(source)}")
            continue
        if not translations or not all(t.strip() for t in translations):
            problems.append(f"not translated: {describe(source)}")
            continue
        allowed = set().union(*(placeholders(i) for i in ids))
        for index, text in enumerate(translations):
            expected = placeholders(ids[min(index, len(ids) - 1)])
            if not expected <= placeholders(text):
                missing = ", ".join(sorted(expected - placeholders(text)))
                problems.append(f"lost {missing} in {text!r} ({describe(source)})")
            if not placeholders(text) <= allowed:
                extra = ", ".join(sorted(placeholders(text) - allowed))
                problems.append(f"unknown {extra} in {text!r} ({describe(source)})")
            if allowed:
                try:
                    text % dict.fromkeys(PLACEHOLDER_NAME.findall(" ".join(allowed)), 1)
                except (TypeError, ValueError, KeyError) as exc:
                    problems.append(f"cannot be formatted ({exc}): {text!r}")
    assert not problems, "German catalogue:\n" + "\n".join(problems)


def test_german_catalogue_has_no_fuzzy_entries() -> None:
    german = read_catalogue(DE_PO, "de")
    assert not german.fuzzy, "the header of the German catalogue is marked fuzzy"
    fuzzy = [describe(m) for m in german if m.id and m.fuzzy]
    assert not fuzzy, "fuzzy entries in the German catalogue:\n" + "\n".join(fuzzy)


def test_compiled_german_catalogue_matches_the_po_file() -> None:
    """The app reads the .mo files; `make test` compiles them, a bare pytest may find old ones."""
    i18n.translations.cache_clear()
    compiled = i18n.translations("de")
    stale = []
    for entry in read_catalogue(DE_PO, "de"):
        if not entry.id or not entry.string:
            continue
        if isinstance(entry.id, str):
            got = compiled.gettext(entry.id)
            want = entry.string
        else:
            got = compiled.ngettext(entry.id[0], entry.id[1], 2)
            want = entry.string[1]
        if got != want:
            stale.append(describe(entry))
    assert not stale, (
        "service/locale/de/LC_MESSAGES/messages.mo is out of date; run "
        "`.venv/bin/pybabel compile -D messages -d service/locale` (or `make test`):\n"
        + "\n".join(stale)
    )


# ---------------------------------------------------------------------------------------------
# Choosing the language


def language_cookie(response: Response) -> str | None:
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("lang=")]
    assert len(cookies) <= 1
    return cookies[0] if cookies else None


def page_language(html: str) -> str:
    match = HTML_LANG.search(html)
    assert match, "no <html lang> on the page"
    return match.group(1)


async def test_german_is_the_default(client: AsyncTestClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert page_language(response.text) == "de"
    assert "Zum Inhalt springen" in response.text
    assert language_cookie(response) is None


async def test_query_parameter_switches_to_english_and_is_remembered(
    client: AsyncTestClient,
) -> None:
    response = await client.get("/", params={"lang": "en"})
    assert page_language(response.text) == "en"
    assert "Skip to content" in response.text
    cookie = language_cookie(response)
    assert cookie is not None
    assert cookie.startswith("lang=en;")
    assert "Path=/" in cookie
    assert client.cookies.get("lang") == "en"

    later = await client.get("/")
    assert page_language(later.text) == "en"

    back = await client.get("/", params={"lang": "de"})
    assert page_language(back.text) == "de"
    assert (language_cookie(back) or "").startswith("lang=de;")
    assert page_language((await client.get("/")).text) == "de"


async def test_language_cookie_is_honoured(client: AsyncTestClient) -> None:
    client.cookies.set("lang", "en")
    response = await client.get("/")
    assert page_language(response.text) == "en"
    assert "Skip to content" in response.text


async def test_query_parameter_beats_cookie_and_header(client: AsyncTestClient) -> None:
    client.cookies.set("lang", "en")
    response = await client.get("/?lang=de", headers={"Accept-Language": "en"})
    assert page_language(response.text) == "de"


async def test_accept_language_english(client: AsyncTestClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert page_language(response.text) == "en"
    assert "Skip to content" in response.text


async def test_accept_language_prefers_higher_quality(client: AsyncTestClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en;q=0.5,de;q=0.9"})
    assert page_language(response.text) == "de"


async def test_unsupported_accept_language_falls_back_to_german(client: AsyncTestClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "fr"})
    assert page_language(response.text) == "de"
    assert "Zum Inhalt springen" in response.text


async def test_unsupported_query_language_is_ignored(client: AsyncTestClient) -> None:
    response = await client.get("/", params={"lang": "xx"})
    assert response.status_code == 200
    assert page_language(response.text) == "de"
    assert language_cookie(response) is None

    english = await client.get(
        "/", params={"lang": "xx"}, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert page_language(english.text) == "en"


async def test_malformed_cookie_header_does_not_break_the_page(client: AsyncTestClient) -> None:
    response = await client.get("/", headers={"Cookie": 'lang="en; broken'})
    assert response.status_code == 200
    assert page_language(response.text) in i18n.LANGUAGES


# ---------------------------------------------------------------------------------------------
# Errors in the user's language


async def test_problem_details_in_german(client: AsyncTestClient) -> None:
    response = await client.get("/api/v1/conferences/unknown", headers={"Accept-Language": "de"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 404
    assert problem["title"] == "Nicht gefunden"
    assert problem["detail"] == "Unter dieser Adresse gibt es keine Tagung."


async def test_problem_details_in_english(client: AsyncTestClient) -> None:
    response = await client.get(
        "/api/v1/conferences/unknown", headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert response.status_code == 404
    problem = response.json()
    assert problem["title"] == "Not found"
    assert problem["detail"] == "There is no conference at this address."


async def test_problem_details_follow_the_cookie(client: AsyncTestClient) -> None:
    client.cookies.set("lang", "en")
    response = await client.get("/api/v1/conferences/unknown")
    assert response.json()["detail"] == "There is no conference at this address."


async def test_not_found_page_is_german_by_default(client: AsyncTestClient) -> None:
    response = await client.get("/conferences/unknown")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert page_language(response.text) == "de"
    assert "Nicht gefunden" in response.text
    assert "Unter dieser Adresse gibt es keine Tagung." in response.text
    assert "Zur Startseite" in response.text


async def test_not_found_page_in_english(client: AsyncTestClient) -> None:
    response = await client.get("/conferences/unknown", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert page_language(response.text) == "en"
    assert "There is no conference at this address." in response.text


async def test_unknown_route_page_is_german(client: AsyncTestClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert page_language(response.text) == "de"
    assert "Nicht gefunden" in response.text


@pytest.mark.parametrize(
    ("accept", "title", "detail"),
    [
        ("de", "Ungültige Eingabe", "Das Ende muss nach dem Beginn liegen."),
        ("en", "Invalid input", "The end must be after the start."),
    ],
)
async def test_field_errors_in_the_users_language(
    client: AsyncTestClient, organiser: StaffAccount, accept: str, title: str, detail: str
) -> None:
    response = await client.post(
        "/api/v1/conferences",
        json=conference_payload(
            starts_at="2027-05-10T17:00:00+02:00", ends_at="2027-05-10T09:00:00+02:00"
        ),
        headers={**organiser.headers, "Accept-Language": accept},
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["title"] == title
    assert detail in problem["detail"]
    assert {"field": "ends_at", "message": detail} in problem["errors"]
