"""Address headers built from people's names hold exactly one mailbox (issue 12, point 4).

Python's e-mail package folds a quoted display name longer than a line without its quotes, so
"Please reply all to confirm, attacker@evil.example, …" became several mailboxes in `To:`, and
a long real name with a comma a broken header. Each message is read back from its bytes, as a
mail program reads it: with the standard library's header parser (name and address) and with
`getaddresses` (address), serialised both ways aiosmtplib sends (SMTP, and SMTPUTF8 when the
envelope has a non-ASCII address), and once through the outbox and a real SMTP server.
"""

from __future__ import annotations

import io
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import Parser
from email.utils import getaddresses

import asyncpg
import pytest

from service.db import create_pool
from service.mail import compose, mailbox, parse_mailbox
from service.migrate import migrate
from service.outbox import OutboxMessage, OutboxWorker, enqueue, register_renderer
from service.settings import parse_smtp_url
from tests.smtp_server import smtp_server

__all__ = ["smtp_server"]  # a fixture, imported for pytest

TO = "ada@example.org"
LONG_TO = "a-very-long-local-part-for-a-functional-mailbox@" + "sub." * 8 + "example.org"
SENDER_NAME = "Stadt, Fachbereich Integration und Teilhabe, Team Tagungen"
SENDER = f'"{SENDER_NAME}" <noreply@t.test>'
LONG_NAMES = [
    "Please reply all to confirm, attacker@evil.example, Team",
    "Please reply all to confirm, attacker@evil.example, Team, and thank you very much",
    "Dr. Maria Musterfrau-Beispielname, Fachbereich Integration und Teilhabe der Landeshauptstadt",
    "Dr. Jürgen Müller-Lüdenscheidt, Fachbereich Integration und Teilhabe der "
    "Landeshauptstadt München, attacker@evil.example",
    'Zoë "die Chefin", x@evil.example; y@evil.example, and a long tail of words to fold it',
    "Ada (comment, here) Lovelace, with a tail of ASCII words long enough to fold the line",
    "abc\\ backslash, comma, <other@evil.example>, and words enough to go past one line",
    "Ünal; group: a@evil.example, b@evil.example; and more words to go past the line limit",
    "李小龍, 王小明, attacker@evil.example, 非常长的名字非常长的名字非常长的名字非常长的名字",
    "A" * 150 + ", attacker@evil.example",
    "Ms " + "Very-Long-Hyphenated-Surname-" * 8 + "Done, attacker@evil.example",
]
SHORT_NAMES = ["Ada Lovelace", "Müller, Jürgen", "O'Brien, Mary", "Zoë", "Eve Bcc: v@example.org"]


def serialised(message: EmailMessage, utf8: bool) -> bytes:
    """The bytes aiosmtplib sends (its flatten_message): SMTPUTF8 when the envelope needs it."""
    out = io.BytesIO()
    BytesGenerator(out, policy=policy.SMTPUTF8 if utf8 else policy.SMTP).flatten(message)
    return out.getvalue()


def read_back(raw: bytes, header: str) -> tuple[list[Address], list[tuple[str, str]]]:
    """`header` as a mail program reads it: the parsed mailboxes, and getaddresses' pairs."""
    text = raw.decode("utf-8")  # headers sent with SMTPUTF8 are raw UTF-8
    parsed = Parser(policy=policy.default).parsestr(text)
    plain = Parser(policy=policy.compat32).parsestr(text)
    return list(parsed[header].addresses), getaddresses(plain.get_all(header, []))


def squeezed(text: str) -> str:
    return "".join(text.split())


def assert_one_mailbox(raw: bytes, header: str, addr_spec: str, name: str) -> str:
    """Exactly the one mailbox, named by the whole name or a beginning of it; returns it."""
    addresses, pairs = read_back(raw, header)
    assert [(a.addr_spec) for a in addresses] == [addr_spec], (header, addresses)
    assert [pair[1] for pair in pairs] == [addr_spec], (header, pairs)
    # (Python's parser puts spaces between adjacent encoded words: compare without spaces.)
    shown = addresses[0].display_name
    assert squeezed(name).startswith(squeezed(shown)), (name, shown)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))  # RFC 5322's hard limit
    return shown


def message_to(name: str, address: str = TO) -> EmailMessage:
    return compose(
        to_name=name,
        to_email=address,
        subject="Ihre Anmeldung",
        text="Hallo\n",
        html="<p>Hallo</p>\n",
        message_id="<outbox.1@tagung.test>",
        language="de",
        sender=SENDER,
    )


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_long_name_with_commas_stays_one_mailbox(name):
    for address in (TO, LONG_TO):
        for utf8 in (False, True):
            raw = serialised(message_to(name, address), utf8)
            shown = assert_one_mailbox(raw, "To", address, name)
            assert_one_mailbox(raw, "From", "noreply@t.test", SENDER_NAME)
            if name.startswith("Dr. Maria") and address == TO:  # cut at a word, not dropped
                assert shown == "Dr. Maria Musterfrau-Beispielname, Fachbereich"


def test_a_name_that_fits_is_kept_whole():
    for name in SHORT_NAMES:
        for utf8 in (False, True):
            addresses, _ = read_back(serialised(message_to(name), utf8), "To")
            assert [(a.display_name, a.addr_spec) for a in addresses] == [(name, TO)], utf8


def test_mailbox_and_mail_from():
    name = "Please reply all to confirm, attacker@evil.example, Team, " * 2
    address = mailbox(name, TO)
    assert address.addr_spec == TO and name.startswith(address.display_name)
    sender = parse_mailbox(f'"A, b {"c" * 90}, d" <noreply@t.test>')
    assert (sender.display_name, sender.addr_spec) == ("A, b", "noreply@t.test")
    with pytest.raises(ValueError):
        mailbox("Eve", "victim@example.org, other@example.org")


# -- through the outbox and a real SMTP server --------------------------------------------


async def render_named(db: asyncpg.Connection, message: OutboxMessage) -> EmailMessage:
    return compose(
        to_name=message.payload["name"],
        to_email=message.recipient,
        subject="Ihre Anmeldung",
        text="Hallo\n",
        html="<p>Hallo</p>\n",
        message_id=message.message_id,
        language=message.language,
    )


register_renderer("test.headers", render_named)


@pytest.fixture(scope="module")
async def headers_pool(create_database):
    url = await create_database("tagung_mail_headers")
    await migrate(url)
    pool = await create_pool(url, size=2)
    yield pool
    await pool.close()


async def test_the_smtp_server_receives_one_mailbox_per_message(headers_pool, smtp_server):
    # A non-ASCII domain makes aiosmtplib send with SMTPUTF8 (raw UTF-8 names).
    recipients = [f"person{i}@example.org" for i in range(len(LONG_NAMES))] + ["zoe@exämple.de"]
    names = [*LONG_NAMES, LONG_NAMES[4]]
    async with headers_pool.acquire() as db, db.transaction():
        for recipient, name in zip(recipients, names, strict=True):
            await enqueue(
                db, "test.headers", recipient=recipient, language="de", payload={"name": name}
            )
    worker = OutboxWorker(
        headers_pool,
        smtp=parse_smtp_url(f"{smtp_server.url}?timeout=5"),
        sender=SENDER,
    )
    await worker.drain()
    received = await smtp_server.wait_for(len(recipients))
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(recipients)
    for mail in received:
        [recipient] = mail.rcpt_tos
        name = names[recipients.index(recipient)]
        assert_one_mailbox(mail.raw, "To", recipient, name)
        assert_one_mailbox(mail.raw, "From", "noreply@t.test", SENDER_NAME)
    statuses = await headers_pool.fetch("SELECT status FROM outbox")
    assert {r["status"] for r in statuses} == {"sent"}
