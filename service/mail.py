"""Building e-mail messages for renderers, with the stdlib `email` package and no domain knowledge.

    text/plain + text/html as multipart/alternative; inline images as multipart/related next to
    the HTML, referenced by `cid:`; attachments (e.g. the .ics invite) in multipart/mixed.

Every header value that comes from people (names, subjects) goes through `header_text`, so a
name like "Eve\\r\\nBcc: x@evil" stays one harmless line instead of becoming a header, and every
mailbox through `mailbox`, so a name like "Reply all, x@evil.example, Team" stays one name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

# RFC-2047-encodes non-ASCII names and subjects, so any SMTP server takes the message.
POLICY = policy.SMTP

InlineImage = tuple[str, bytes, str]  # (cid, data, image subtype such as "png")
Attachment = tuple[str, bytes, str, Mapping[str, str]]  # (filename, data, "type/sub", params)

_WHITESPACE = re.compile(r"\s+")
_BREAKING = {"Cc", "Zl", "Zp"}


def header_text(value: str, limit: int = 200) -> str:
    """One line of text for a header: control characters (CR, LF, NUL, …) and line separators
    become spaces. Format characters stay: Persian names need the zero-width non-joiner."""
    cleaned = "".join(" " if unicodedata.category(c) in _BREAKING else c for c in value)
    return _WHITESPACE.sub(" ", cleaned).strip()[:limit]


def mailbox(name: str, email: str, header: str = "To") -> Address:
    """A mailbox for an address header; raises ValueError for an address that is not one
    addr-spec. The name is kept only where the header, serialised as it will be sent, parses
    back to exactly this one mailbox: Python's folding of a quoted name longer than a line
    drops the quotes, and "Reply all, x@evil.example, Team" would become three mailboxes.
    Such a name is cut to fit on one line, or, failing that, left out."""
    addr_spec = email.strip()
    bare = Address(addr_spec=addr_spec)
    name = header_text(name)
    for candidate in dict.fromkeys((name, _one_line_name(name, addr_spec, header))):
        if candidate:
            address = Address(display_name=candidate, addr_spec=addr_spec)
            if _parses_back(header, address):
                return address
    return bare


def parse_mailbox(text: str, header: str = "From") -> Address:
    """'Name <a@b.de>' or 'a@b.de' (e.g. MAIL_FROM) as an Address."""
    name, address = parseaddr(text)
    return mailbox(name, address, header)


# Both ways a message leaves: aiosmtplib serialises with SMTPUTF8 (names in raw UTF-8, quoted
# like ASCII ones) when the envelope has a non-ASCII address, with SMTP otherwise.
_SENT_AS = (POLICY, policy.SMTPUTF8)
_FOLD = re.compile(r"\r\n(?=[ \t])")


def _parses_back(header: str, address: Address) -> bool:
    """Whether the header, as sent, reads as this one mailbox to a mail program: to the
    standard library's header parser (name and address) and to `getaddresses` (address)."""
    for sent_as in _SENT_AS:
        folded = sent_as.header_factory(header, address).fold(policy=sent_as)
        value = _FOLD.sub("", folded).partition(":")[2].strip()
        if [pair[1] for pair in getaddresses([value])] != [address.addr_spec]:
            return False
        parsed = policy.default.header_factory(header, value).addresses
        if len(parsed) != 1 or parsed[0].addr_spec != address.addr_spec:
            return False
        # Python's parser puts spaces between adjacent encoded words; the text must match.
        if "".join(parsed[0].display_name.split()) != "".join(address.display_name.split()):
            return False
    return True


def _one_line_name(name: str, addr_spec: str, header: str) -> str:
    """The name cut at a word so that `Header: "name" <address>` needs no folding."""
    room = POLICY.max_line_length - len(f'{header}: "" <{addr_spec}>')
    if len(name) + name.count('"') + name.count("\\") <= room:
        return name
    cut = ""
    for word in name.split(" "):
        longer = f"{cut} {word}" if cut else word
        if len(longer) + longer.count('"') + longer.count("\\") > room:
            break
        cut = longer
    return cut.rstrip(" ,;:-")


def compose(
    *,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    language: str,
    inline_images: Sequence[InlineImage] = (),
    attachments: Sequence[Attachment] = (),
    sender: Address | str | None = None,
) -> EmailMessage:
    """The message a renderer returns. The outbox worker sets From (MAIL_FROM) when `sender`
    is None, and always sets the row's Message-ID; the envelope recipient is the outbox row's
    address, never one read from these headers."""
    message = EmailMessage(policy=POLICY)
    if sender is not None:
        if isinstance(sender, Address):
            sender = mailbox(sender.display_name, sender.addr_spec, "From")
        message["From"] = sender if isinstance(sender, Address) else parse_mailbox(sender)
    message["To"] = mailbox(to_name, to_email, "To")
    message["Subject"] = header_text(subject, limit=250)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    # Tells auto-responders (vacation notices) not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"

    # Quoted-printable: 7-bit safe through any relay, and still readable as source.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = message.get_payload()[1]
    for cid, data, subtype in inline_images:
        html_part.add_related(
            data,
            maintype="image",
            subtype=subtype,
            cid=f"<{cid}>",
            disposition="inline",
            filename=f"{cid}.{subtype}",
        )
    for filename, data, mime_type, params in attachments:
        maintype, _, subtype = mime_type.partition("/")
        # Bytes, base64-encoded, so a calendar's CRLF line ends survive every relay; the
        # parameters (method=REQUEST, charset) go on the Content-Type, where calendar
        # programs look for them.
        message.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=header_text(filename, limit=100),
            params=dict(params),
        )
    # Only now: set_content and the multipart conversions drop or move Content-* headers.
    message["Content-Language"] = header_text(language, limit=35)
    return message


def find_part(message: EmailMessage, content_type: str) -> EmailMessage | None:
    """The first part of a content type, e.g. for tests and previews."""
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None
