"""The accessibility statement (Erklärung zur Barrierefreiheit, § 12b BGG, § 7 BITV 2.0) at
/accessibility: built from the ACCESSIBILITY_* settings, in German and English, and linked from
every page's footer. axe checks the page itself in tests/test_accessibility.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import AccessibilityStatement, PrivacyContacts, Settings
from tests.registration_support import SLUG, make_conference

STATEMENT = AccessibilityStatement(
    status="partially",
    statement_date=date(2027, 3, 4),
    feedback_email="barrieren@mi.example",
    enforcement_body="Landesbeauftragte für Menschen mit Behinderungen Niedersachsen",
    enforcement_body_url="https://schlichtung.example",
)


async def statement_pages(settings: Settings) -> tuple[str, str]:
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        german = await c.get("/accessibility")
        english = await c.get("/accessibility?lang=en")
    assert german.status_code == english.status_code == 200
    return german.text, english.text


async def test_statement_is_built_from_the_settings_in_both_languages(settings):
    german, english = await statement_pages(replace(settings, accessibility=STATEMENT))
    for text in (german, english):
        for fact in (
            "mailto:barrieren@mi.example",
            "Landesbeauftragte für Menschen mit Behinderungen Niedersachsen",
            'href="https://schlichtung.example"',
            '<time datetime="2027-03-04">',
            "EN 301 549",
            "WCAG",
            "axe-core",
        ):
            assert fact in text, fact
    assert '<html lang="de"' in german
    for part in (
        "<h1>Erklärung zur Barrierefreiheit</h1>",
        'am <time datetime="2027-03-04">4. März 2027</time> erstellt',
        "nur teilweise mit den Anforderungen der BITV 2.0 vereinbar",
        "Nicht barrierefreie Inhalte",
        "Lageplan",
        "Screenreader",
        "Selbstbewertung",
        "Schlichtungsverfahren",
    ):
        assert part in german, part
    assert '<html lang="en"' in english
    for part in (
        "<h1>Accessibility statement</h1>",
        'prepared on <time datetime="2027-03-04">March 4, 2027</time>',
        "partially compliant with the requirements of BITV 2.0",
        "Non-accessible content",
        "self-assessment",
        "keyboard alone",
        "Conciliation procedure",
    ):
        assert part in english, part


async def test_defaults_name_the_federal_conciliation_body_and_the_privacy_contact(settings):
    contacts = replace(PrivacyContacts(), contact_email="tagung@mi.example")
    fully = replace(AccessibilityStatement(), status="fully")
    german, english = await statement_pages(replace(settings, privacy=contacts))
    assert "mailto:tagung@mi.example" in german and "mailto:tagung@mi.example" in english
    assert "Schlichtungsstelle nach § 16 BGG" in german
    assert 'href="https://www.schlichtungsstelle-bgg.de"' in german
    assert "25. November 2026" in german and "November 25, 2026" in english
    german, english = await statement_pages(replace(settings, accessibility=fully))
    assert "vollständig vereinbar" in german and "fully compliant" in english
    assert "Nicht barrierefreie Inhalte" not in german and "Non-accessible" not in english


def test_statement_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRIVACY_CONTACT_EMAIL", "tagung@stadt.example")
    settings = Settings.from_env()
    assert settings.accessibility == AccessibilityStatement()
    assert settings.accessibility_feedback_email == "tagung@stadt.example"
    monkeypatch.setenv("ACCESSIBILITY_STATUS", "fully")
    monkeypatch.setenv("ACCESSIBILITY_STATEMENT_DATE", "2027-01-15")
    monkeypatch.setenv("ACCESSIBILITY_FEEDBACK_EMAIL", "barrierefrei@stadt.example")
    monkeypatch.setenv("ACCESSIBILITY_ENFORCEMENT_BODY", "Ombudsstelle des Landes")
    monkeypatch.setenv("ACCESSIBILITY_ENFORCEMENT_BODY_URL", "https://ombud.example")
    settings = Settings.from_env()
    assert settings.accessibility == AccessibilityStatement(
        status="fully",
        statement_date=date(2027, 1, 15),
        feedback_email="barrierefrei@stadt.example",
        enforcement_body="Ombudsstelle des Landes",
        enforcement_body_url="https://ombud.example",
    )
    assert settings.accessibility_feedback_email == "barrierefrei@stadt.example"
    for name, value in (
        ("ACCESSIBILITY_STATUS", "teilweise"),
        ("ACCESSIBILITY_STATEMENT_DATE", "25.11.2026"),
        ("ACCESSIBILITY_FEEDBACK_EMAIL", "no address"),
        ("ACCESSIBILITY_ENFORCEMENT_BODY", " "),
        ("ACCESSIBILITY_ENFORCEMENT_BODY_URL", "www.example.org"),
    ):
        with monkeypatch.context() as wrong:
            wrong.setenv(name, value)
            with pytest.raises(ValueError, match=name):
                Settings.from_env()


async def test_every_page_links_the_statement_in_its_footer(client, organiser):
    await make_conference(client, organiser)
    for path in (
        "/",
        "/privacy",
        "/accessibility",
        f"/conferences/{SLUG}",
        f"/conferences/{SLUG}/register",
        f"/conferences/{SLUG}/exhibit",
        "/staff/login",
        "/no-such-page",
    ):
        page = await client.get(path)
        footer = page.text.partition('<footer class="site-footer">')[2]
        assert 'href="/privacy"' in footer and 'href="/accessibility"' in footer, path
