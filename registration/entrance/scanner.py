"""The scanner page for staff phones at the doors, and what it needs to go on deciding when the
conference centre's Wi-Fi drops.

Online, the page sends each scan to `POST /api/v1/checkin` (entrance.checkin decides).
For the moments without network it keeps the offline data of its conference: SHA-256 of every
ticket secret (the digest that is stored anyway, never the secrets), with name, category and
whether the person is inside, and the hashes of tickets to refuse. It decides alone, queues the
scan with its nonce and time, and uploads the queue to `POST /api/v1/checkin/batch` when the
network is back. The server then decides each scan once more, as it would have online (the
nonce makes a retried upload harmless); a ticket the door admitted offline that the server
finds already inside is a conflict: it is answered in `conflicts` and recorded as a scan with
`offline = true` and reason `already_checked_in`.

The page (with its script, style and decoder) is cached by a service worker served from
`/scan/sw.js`, so that a phone that has opened it once opens it again without network.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import asyncpg
import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.params import JSONBody
from litestar.response import Template

from registration import options
from registration.entrance import checkin, queries
from registration.entrance.api import SCANNER, STAFF
from registration.entrance.schemas import (
    BATCH_LIMIT,
    BatchAnswer,
    BatchRequest,
    BatchResult,
    BatchScan,
    OfflineData,
    OfflineTicket,
    RefusedTicket,
    ScanConflict,
)
from service import i18n
from service.auth import FOR_DOOR_DEVICES, CurrentStaff, StaffUser
from service.conferences.lookups import STAFF as STAFF_CONFERENCE
from service.conferences.lookups import ConferenceRow, staff_conference
from service.db import DB
from service.errors import FieldErrors
from service.i18n import gettext as _
from service.settings import PROJECT_ROOT

STATIC = PROJECT_ROOT / "service" / "static"
PAGE = "/scan"
DEVICE_PAGE = "/scan/device"  # the same page for a paired door device
SERVICE_WORKER = STATIC / "js" / "scan-sw.js"
SCRIPT = "/static/js/scanner.js"
STYLE = "/static/css/site.css"  # linked by base.html as it is
DECODER = "/static/vendor/barcode-detector/ponyfill.js"
DECODER_FILES = (
    DECODER,
    "/static/vendor/barcode-detector/zxing-exported.js",
    "/static/vendor/barcode-detector/zxing_reader.wasm",
)
ALREADY_INSIDE = "already_checked_in"
NOT_CACHED = {"Cache-Control": "private, no-store"}


@cache
def _file_hash(url: str) -> str:
    path = STATIC / url.removeprefix("/static/")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@cache
def _manifest() -> dict[str, Any]:
    """What the service worker keeps for offline use; its version changes with any file."""
    script = f"{SCRIPT}?v={_file_hash(SCRIPT)}"
    precache = [STYLE, script]
    version = hashlib.sha256(
        "|".join(
            [
                *(_file_hash(u) for u in (STYLE, SCRIPT, *DECODER_FILES)),
                hashlib.sha256(SERVICE_WORKER.read_bytes()).hexdigest(),
            ]
        ).encode()
    ).hexdigest()[:16]
    return {
        "version": version,
        "page": PAGE,
        # Pages kept for a start without network: the staff scanner and a door device's.
        "pages": [PAGE, DEVICE_PAGE],
        "precache": precache,
        # The camera decoder (1.1 MB) is only needed where the browser has no
        # BarcodeDetector; fetched in the background and not required for the install.
        "optional": list(DECODER_FILES),
    }


def _strings() -> dict[str, Any]:
    """Everything the script says, in the page's language."""
    return {
        "ready": _("Ready – scan the next ticket"),
        "checking": _("Checking …"),
        "ok": _("Welcome!"),
        "exit_ok": _("Exit recorded – goodbye"),
        "already": _("Already checked in at %(time)s"),
        "already_at_gate": _("Already checked in at %(time)s, door %(gate)s"),
        "reasons": {
            "invalid": _("Not a valid ticket"),
            "cancelled": _("This registration has been cancelled – no entry"),
            "not_confirmed": _("This registration is not confirmed – no entry"),
            "other_conference": _("This ticket is for another conference"),
            "no_data": _("No connection and no ticket data on this phone – cannot decide"),
        },
        "forum": {
            "signed_up": _("Signed up – welcome!"),
            "waiting": _("On the waiting list – no seat in this forum"),
            "not_signed_up": _("Not signed up for this forum"),
            "invalid": _("Not a valid ticket for this conference"),
            "offline": _("No connection – the forum check needs the network"),
        },
        "decided_offline": _("Decided offline – will be uploaded"),
        "too_many": _("Too many invalid codes from this device. Please wait a minute."),
        "bad_request": _("The code could not be checked."),
        "logged_out": _("You are logged out. Scans are kept on this phone; please log in again."),
        "device_removed": _(
            "This device has been removed by the organisers and can no longer scan. Ask them "
            "to set it up again."
        ),
        "device_removed_short": _("Device removed"),
        "device_missing": _(
            "This phone is not set up as a door. Open the pairing link the organisers show you."
        ),
        "device_logout": _(
            "Sign this device out? It can no longer scan until the organisers set it up again."
        ),
        "log_in": _("Log in again"),
        "online": _("Online"),
        "offline": _("Offline"),
        "data_none": _("No ticket data yet"),
        "data_fresh": _("Ticket data up to date"),
        "data_age": _("Ticket data %(minutes)s min old"),
        "queue_one": _("%(count)s scan waiting to upload"),
        "queue_many": _("%(count)s scans waiting to upload"),
        "queue_none": _("All scans uploaded"),
        "conflict": _(
            "Conflict: %(name)s was admitted here offline at %(time)s but had already "
            "entered at %(first)s, door %(gate)s"
        ),
        "offline_refused": _("%(name)s was admitted here offline at %(time)s, but: %(reason)s"),
        "camera_missing": _(
            "No camera available on this device. Type the code or use a handheld scanner."
        ),
        "camera_denied": _("The camera may not be used. Allow it in the browser settings."),
        "camera_no_decoder": _("This browser cannot read QR codes from the camera."),
        "camera_starting": _("Starting the camera …"),
        "entrance": _("Entrance"),
        "door": _("door %(gate)s"),
        "entry": _("Entry"),
        "exit": _("Exit"),
        "forum_label": _("Forum: %(title)s"),
        "undo": _("Undo this entry"),
        "undone": _("Entry taken back"),
        "not_undone": _("Nothing to take back: the person is not inside."),
        "needs_network": _("This needs the network. Please try again when online."),
        "search_none": _("Nobody found."),
        "admit": _("Admit"),
        "inside_since": _("inside since %(time)s"),
        "status_cancelled": _("cancelled"),
        "status_pending": _("not confirmed"),
    }


async def _conferences(db: asyncpg.Connection, staff: StaffUser) -> list[dict[str, str]]:
    """The conferences this account scans for (a limited one: only its own)."""
    return [dict(r) for r in await queries.door_conferences(db, staff.conferences)]


def _page(conferences: list[dict[str, str]], *, device: bool) -> Template:
    config = {
        "language": i18n.current_language.get(),
        "conferences": conferences,
        "device": device,
        "strings": _strings(),
        "categories": dict([*options.categories(), ("exhibitor_staff", _("Exhibitor staff"))]),
        "urls": {
            "page": PAGE,
            "device_page": DEVICE_PAGE,
            "login": f"/staff/login?next={PAGE}",
            "service_worker": f"{PAGE}/sw.js",
            "checkin": "/api/v1/checkin",
            "batch": "/api/v1/checkin/batch",
            "manual": "/api/v1/checkin/manual",
            "undo": "/api/v1/checkin/undo",
            "offline_data": "/api/v1/conferences/{slug}/checkin/offline-data",
            "search": "/api/v1/conferences/{slug}/checkin/search",
            "forums": "/api/v1/conferences/{slug}/forums",
            "attendance": "/api/v1/forums/{id}/attendance",
            "decoder": DECODER,
            "wasm": DECODER_FILES[2],
        },
    }
    return Template(
        "registration/scan.html",
        context={"config": config, "script": _manifest()["precache"][1], "device": device},
        media_type=MediaType.HTML,
        headers=NOT_CACHED,
    )


class ScannerPage(Controller):
    path = PAGE
    include_in_schema = False

    @get("/", guards=SCANNER)
    async def page(self, db: DB, staff: CurrentStaff) -> Template:
        return _page(await _conferences(db, staff), device=False)

    @get("/device")
    async def device_page(self) -> Template:
        """The scanner of a paired door device (registration/entrance/devices.py): the same
        page for anyone, holding nothing of any conference; its script takes the conference
        and door from the phone's storage and calls the API with the device's token."""
        return _page([], device=True)

    @get("/sw.js", media_type="text/javascript")
    async def service_worker(self) -> Response[bytes]:
        """The service worker, with the list of files it keeps; its scope is the page."""
        body = f"self.MANIFEST = {json.dumps(_manifest())};\n".encode()
        return Response(
            body + SERVICE_WORKER.read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": PAGE},
        )


async def offline_data(db: asyncpg.Connection, conference: asyncpg.Record) -> OfflineData:
    generated_at, rows = await queries.ticket_snapshot(db, conference["id"])
    tickets, refused = [], []
    for row in rows:
        digest = row["ticket_hash"].hex()
        if row["status"] == "confirmed":
            tickets.append(
                OfflineTicket(
                    hash=digest,
                    registration_id=row["id"],
                    name=row["name"],
                    category=row["category"],
                    category_label=options.category_name(row["category"]),
                    organisation=row["organisation"],
                    inside=row["inside"],
                    entered_at=row["entered_at"],
                    entered_gate=row["entered_gate"],
                )
            )
        else:
            reason = "cancelled" if row["status"] == "cancelled" else "not_confirmed"
            refused.append(RefusedTicket(hash=digest, reason=reason))
    return OfflineData(
        conference=conference["slug"],
        timezone=conference["timezone"],
        generated_at=generated_at,
        tickets=tickets,
        refused=refused,
    )


async def upload(
    db: asyncpg.Connection, staff: StaffUser, slug: str, scans: list[BatchScan]
) -> BatchAnswer:
    """Each scan decided as if it arrived now, in the order the door made them."""
    results: list[BatchResult] = []
    conflicts: dict[str, ScanConflict] = {}
    now = await queries.database_now(db)
    limited = False
    for scan in scans:
        decision = None
        if not limited:
            try:
                decision = await checkin.scan(
                    db,
                    staff,
                    conference_slug=slug,
                    secret=scan.secret,
                    gate=scan.gate,
                    kind=scan.type,
                    nonce=scan.nonce,
                    offline=True,
                    # A phone's clock may run ahead: no scan happened later than now.
                    scanned_at=min(scan.scanned_at, now),
                )
            except checkin.TooManyFailures:
                limited = True
        if decision is None:
            results.append(
                BatchResult(scan.nonce, "retry", "rate_limited", None, None, None, False)
            )
            continue
        result = msgspec.convert(
            {**decision, "nonce": scan.nonce, "conflict": decision["reason"] == ALREADY_INSIDE},
            BatchResult,
        )
        results.append(result)
        if result.conflict:
            conflicts[scan.nonce] = ScanConflict(
                nonce=scan.nonce,
                scanned_at=scan.scanned_at,
                gate=scan.gate,
                attendee=result.attendee,
                first_checked_in_at=result.checked_in_at,
                first_gate=result.gate,
            )
    return BatchAnswer(results=results, conflicts=list(conflicts.values()))


class ScannerAPI(Controller):
    path = "/api/v1"
    tags = ["entrance"]
    guards = SCANNER
    security = STAFF
    opt = FOR_DOOR_DEVICES  # the scanner page's calls, also from a paired door device

    @get(
        "/conferences/{slug:str}/checkin/offline-data",
        # On this handler only: a dependency named like a body's field (the batch's
        # `conference`) would make Litestar answer that field's errors with a 500.
        dependencies=STAFF_CONFERENCE,
        summary="What a door needs to decide alone while the network is down",
        description=(
            "tickets: for every confirmed registration the SHA-256 (hex) of its ticket secret "
            "as normalised for lookup (upper case, without spaces, hyphens, dots or "
            "underscores), with name, category, organisation and whether the person is "
            "inside; refused: hashes of cancelled or unconfirmed tickets with the reason; "
            "generated_at: the database time of this snapshot. Secrets themselves are never "
            "sent."
        ),
    )
    async def offline_data(self, db: DB, conference: ConferenceRow) -> Response[OfflineData]:
        data = await offline_data(db, conference)
        return Response(data, headers=NOT_CACHED)

    @post(
        "/checkin/batch",
        status_code=200,
        summary="Upload scans a door decided offline",
        description=(
            "Each scan is decided by the server as a scan that arrives now (recorded with "
            "offline = true and its scanned_at), in the order sent; the same nonce from the "
            "same device is decided once, however often it is uploaded. results: one per scan, "
            "as the check-in answer, with status retry (send again later) when this device "
            f"has too many refused scans in the last minute. At most {BATCH_LIMIT} scans. "
            "Send only what the door let through (admitted or let out): the server decides "
            "each scan again and would admit a ticket the door refused. conflicts: entries "
            "the server found already checked in (the same ticket admitted at two doors), "
            "with the time and gate of the first entry; they stay recorded as scans with "
            "offline = true and reason already_checked_in."
        ),
    )
    async def batch(self, db: DB, staff: CurrentStaff, data: JSONBody[BatchRequest]) -> BatchAnswer:
        conference = await staff_conference(db, data.conference, staff)  # named in the body
        times = [scan.scanned_at for scan in data.scans]
        refused = checkin.offline_times_refused(times, conference["starts_at"], datetime.now(UTC))
        if refused:
            raise FieldErrors(refused)
        return await upload(db, staff, data.conference, data.scans)


__all__ = ["ScannerAPI", "ScannerPage", "offline_data", "upload"]
