"""One way to wire a domain (service/wiring.py): importing a domain registers nothing; each
domain's `wire(settings)`, called by create_app, registers its renderers, handlers and
providers; and create_app run again (tests build many apps) replaces them, never doubles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.app import create_app
from tests.registration_support import SLUG, confirm, make_conference, register

ROOT = Path(__file__).resolve().parents[1]

# Every hook's registrations, read in a fresh interpreter.
HOOKS = """
import json, sys
from pathlib import Path
import exhibitors, forums, registration
from registration import calendar, logic, pages, privacy, views
from service import events, outbox
from service.app import create_app
from service.settings import Settings

def hooks():
    return {
        "renderers": len(outbox._renderers),
        "conference_changed": len(events._conference_changed),
        "cancelled": len(logic._cancel_handlers),
        "calendar": len(calendar._extra_events),
        "forum_signups": len(views._forum_signups),
        "forum_attendance": len(views._forum_attendance),
        "mail_kinds": list(privacy._mail_kinds),
        "export": sorted(privacy._export_sections),
        "confirmers": len(pages._other_confirmers),
    }

seen = {"imported": hooks()}
settings = Settings(
    database_url="postgresql://nobody@127.0.0.1:1/none",  # create_app does not connect
    smtp_url="smtp://127.0.0.1:1",
    base_url="http://testserver.local",
    secret_key="wiring-test",
    data_dir=Path(sys.argv[1]),
)
create_app(settings)
seen["once"] = hooks()
create_app(settings)
create_app(settings)
seen["thrice"] = hooks()
print(json.dumps(seen))
"""


def test_importing_a_domain_registers_nothing_and_wiring_again_doubles_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", HOOKS, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["imported"] == {
        "renderers": 0,
        "conference_changed": 0,
        "cancelled": 0,
        "calendar": 0,
        "forum_signups": 0,
        "forum_attendance": 0,
        "mail_kinds": ["registration."],  # registration's own, a constant
        "export": [],
        "confirmers": 0,
    }
    once = seen["once"]
    assert once["renderers"] > 10
    assert once["conference_changed"] == once["cancelled"] == once["calendar"] == 1
    assert once["forum_signups"] == once["forum_attendance"] == once["confirmers"] == 1
    assert once["mail_kinds"] == ["registration.", "forum."]
    assert once["export"] == ["forum_attendance"]
    assert seen["thrice"] == once


async def test_a_conference_change_after_more_apps_sends_each_notice_once(
    client, organiser, pool, settings
):
    """The `client` fixture built one app; two more wire everything again."""
    create_app(settings)
    create_app(settings)
    await make_conference(client, organiser, capacity=2)
    for email in ("anna@example.org", "ben@example.org"):
        await register(client, email=email, name=email[:4])
        await confirm(client, pool, settings, email)

    changed = await client.patch(
        f"/api/v1/conferences/{SLUG}", json={"venue": "Neues Rathaus"}, headers=organiser.headers
    )
    assert changed.status_code == 200, changed.text
    notices = await pool.fetch(
        "SELECT recipient FROM outbox WHERE kind = 'registration.conference_changed' "
        "ORDER BY recipient"
    )
    assert [n["recipient"] for n in notices] == ["anna@example.org", "ben@example.org"]
