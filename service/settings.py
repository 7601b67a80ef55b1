"""All configuration, read from the environment once, in one frozen object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    return Path(os.environ.get("TAGUNG_DATA_DIR", PROJECT_ROOT / "var")).resolve()


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/.

    Kept on disk so that sessions survive a restart and every worker process agrees on it.
    """
    configured = os.environ.get("SECRET_KEY")
    if configured:
        return configured
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand mail over, parsed from SMTP_URL:
    smtp://host:port (plain), smtp+starttls://user:pw@host:587 (STARTTLS required),
    smtps://user:pw@host:465 (TLS from the first byte); `?timeout=SECONDS` optional."""

    hostname: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    # aiosmtplib's default (None) upgrades only if the server offers it, which an attacker
    # in the path can suppress; so STARTTLS is either required (True) or not tried (False).
    start_tls: bool = False
    timeout: float = 30.0


# scheme: (default port, use_tls, start_tls)
_SMTP_SCHEMES = {
    "smtp": (25, False, False),
    "smtp+starttls": (587, False, True),
    "smtps": (465, True, False),
}


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in _SMTP_SCHEMES:
        raise ValueError(
            f"SMTP_URL: unknown scheme {parts.scheme!r}; use smtp://, smtp+starttls:// or smtps://"
        )
    if not parts.hostname:
        raise ValueError("SMTP_URL: no host (e.g. smtp://127.0.0.1:8025)")
    default_port, use_tls, start_tls = _SMTP_SCHEMES[parts.scheme]
    timeout = 30.0
    for key, _, value in (item.partition("=") for item in parts.query.split("&") if item):
        if key != "timeout":
            raise ValueError(f"SMTP_URL: unknown option {key!r} (only timeout=SECONDS)")
        timeout = float(value)
    return SmtpConfig(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls,
        start_tls=start_tls,
        timeout=timeout,
    )


@dataclass(frozen=True)
class PrivacyContacts:
    """The facts of the privacy notice (GDPR Art. 13) that only the operator knows: who is
    responsible, whom to ask, who processes on their behalf and where to complain. The
    defaults are the demo's placeholders; a real installation sets every PRIVACY_* variable.
    The notice's texts (purposes, legal bases, rights) are in the page, in both languages."""

    # The controller: the organising body, with a postal address and a contact.
    controller: str = "Geschäftsstelle der Integrationskonferenz (Beispiel)"
    controller_address: str = "Musterstraße 1, 30159 Hannover"
    contact_email: str = "tagung@example.org"
    contact_phone: str = ""
    # The data protection officer (Art. 37–39): a name or the function, and how to reach them.
    dpo: str = "Behördliche Datenschutzbeauftragte (Beispiel)"
    dpo_email: str = "datenschutz@example.org"
    dpo_address: str = ""
    # The supervisory authority people may complain to (Art. 77).
    authority: str = "Die Landesbeauftragte für den Datenschutz Niedersachsen"
    authority_address: str = "Prinzenstraße 5, 30159 Hannover"
    authority_url: str = "https://www.lfd.niedersachsen.de"
    # Processors (Art. 28), e.g. the data centre that hosts the service; empty: none.
    processors: str = "IT-Dienstleister der Geschäftsstelle (Beispiel), Musterweg 2, 30159 Hannover"
    # A public body processes to fulfil its task: Art. 6(1)(e) GDPR with this national law.
    # Empty (an association, a company): Art. 6(1)(b) GDPR, taking part as agreed.
    public_task_law: str = "§ 3 NDSG"

    def __post_init__(self) -> None:
        for name in ("controller", "controller_address", "contact_email", "authority"):
            if not getattr(self, name).strip():
                raise ValueError(f"PRIVACY_{name.upper()}: the privacy notice needs it")
        for name in ("contact_email", "dpo_email"):
            value = getattr(self, name)
            if value and "@" not in parseaddr(value)[1]:
                raise ValueError(f"PRIVACY_{name.upper()}: {value!r} is no e-mail address")
        if self.authority_url and not self.authority_url.startswith(("https://", "http://")):
            raise ValueError("PRIVACY_AUTHORITY_URL: starts with https://")

    @classmethod
    def from_env(cls) -> PrivacyContacts:
        defaults = cls()
        return cls(
            **{
                name: os.environ.get(f"PRIVACY_{name.upper()}", getattr(defaults, name)).strip()
                for name in cls.__dataclass_fields__
            }
        )


ACCESSIBILITY_STATUSES = ("fully", "partially")


@dataclass(frozen=True)
class AccessibilityStatement:
    """The facts of the accessibility statement (§ 12b BGG, § 7 BITV 2.0, the model statement
    of Directive (EU) 2016/2102) that only the operator knows. The texts (standard, content
    that is not accessible, how it was assessed) are in the page, in both languages."""

    # "fully" or "partially" compliant with BITV 2.0 (WCAG 2.1 AA through EN 301 549).
    status: str = "partially"
    # When the statement was made (from the self-assessment).
    statement_date: date = date(2026, 11, 25)
    # Where to report barriers; empty: the privacy notice's contact (PRIVACY_CONTACT_EMAIL).
    feedback_email: str = ""
    # The body for the conciliation procedure; a state's own body for a state's authorities.
    enforcement_body: str = "Schlichtungsstelle nach § 16 BGG"
    enforcement_body_url: str = "https://www.schlichtungsstelle-bgg.de"

    def __post_init__(self) -> None:
        if self.status not in ACCESSIBILITY_STATUSES:
            raise ValueError(
                f"ACCESSIBILITY_STATUS: {self.status!r} is neither 'fully' nor 'partially'"
            )
        if not self.enforcement_body.strip():
            raise ValueError("ACCESSIBILITY_ENFORCEMENT_BODY: the statement needs it")
        if self.feedback_email and "@" not in parseaddr(self.feedback_email)[1]:
            raise ValueError(
                f"ACCESSIBILITY_FEEDBACK_EMAIL: {self.feedback_email!r} is no e-mail address"
            )
        if self.enforcement_body_url and not self.enforcement_body_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError("ACCESSIBILITY_ENFORCEMENT_BODY_URL: starts with https://")

    @classmethod
    def from_env(cls) -> AccessibilityStatement:
        defaults = cls()
        raw_date = os.environ.get("ACCESSIBILITY_STATEMENT_DATE", "").strip()
        try:
            statement_date = date.fromisoformat(raw_date) if raw_date else defaults.statement_date
        except ValueError:
            raise ValueError(
                f"ACCESSIBILITY_STATEMENT_DATE: {raw_date!r} is no date like 2026-11-25"
            ) from None
        text = {
            name: os.environ.get(f"ACCESSIBILITY_{name.upper()}", getattr(defaults, name)).strip()
            for name in ("status", "feedback_email", "enforcement_body", "enforcement_body_url")
        }
        return cls(statement_date=statement_date, **text)


def _days(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 3650:
        raise ValueError(f"{name}: {raw!r} is not a number of days from 0 to 3650")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    smtp_url: str
    base_url: str
    secret_key: str
    data_dir: Path
    db_pool_size: int = 10
    db_connect_timeout: float = 3.0
    debug: bool = False
    # Sender of every e-mail; empty means "tagung <noreply@{host of base_url}>".
    mail_from: str = ""
    # Run an e-mail worker loop in the web process. Off unless from_env turns it on, so an app
    # built directly (tests, scripts) never sends mail behind the caller's back.
    run_worker: bool = False
    # Per-client limits on login, registration and link use. Benchmarks that drive thousands
    # of requests from one address turn them off with TAGUNG_RATE_LIMITS=off.
    rate_limits: bool = True
    # Behind our own reverse proxy every request comes from the proxy's address; with
    # TRUST_PROXY=1 the limits count the address the proxy saw (last X-Forwarded-For entry).
    trust_proxy: bool = False
    # Data protection: the facts of the privacy notice, and how many days after its end a
    # conference's attendees and exhibitor contacts are made anonymous (`tagung gdpr purge`).
    privacy: PrivacyContacts = field(default_factory=PrivacyContacts)
    retention_days: int = 90
    # Accessibility: the facts of the accessibility statement (/accessibility).
    accessibility: AccessibilityStatement = field(default_factory=AccessibilityStatement)

    def __post_init__(self) -> None:
        parse_smtp_url(self.smtp_url)  # a wrong SMTP_URL stops the start, not the first mail
        if not self.mail_from:
            host = urlsplit(self.base_url).hostname or "localhost"
            object.__setattr__(self, "mail_from", f"tagung <noreply@{host}>")
        if "@" not in parseaddr(self.mail_from)[1]:
            raise ValueError(f"MAIL_FROM: {self.mail_from!r} has no address (e.g. a <b@c.de>)")

    @property
    def accessibility_feedback_email(self) -> str:
        """Where to report barriers: ACCESSIBILITY_FEEDBACK_EMAIL, else the privacy contact."""
        return self.accessibility.feedback_email or self.privacy.contact_email

    @property
    def smtp(self) -> SmtpConfig:
        return parse_smtp_url(self.smtp_url)

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = _data_dir()
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            smtp_url=os.environ.get("SMTP_URL", "smtp://127.0.0.1:8025"),
            base_url=os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret_key=_secret_key(data_dir),
            data_dir=data_dir,
            db_pool_size=int(os.environ.get("DB_POOL_SIZE", "10")),
            debug=os.environ.get("TAGUNG_DEBUG", "") == "1",
            mail_from=os.environ.get("MAIL_FROM", ""),
            # `tagung serve --no-worker` sets it; web processes are spawned and read it here.
            run_worker=os.environ.get("TAGUNG_NO_WORKER", "") != "1",
            rate_limits=os.environ.get("TAGUNG_RATE_LIMITS", "on") != "off",
            trust_proxy=os.environ.get("TRUST_PROXY", "") == "1",
            privacy=PrivacyContacts.from_env(),
            retention_days=_days("RETENTION_DAYS", 90),
            accessibility=AccessibilityStatement.from_env(),
        )
