"""The entrance: tickets checked at the doors, and what organisers see of it.

- `checkin`: the decision for one scan (a ticket admitted exactly once), manual entry, undo
- `api`: the check-in API for doors and scripts (`ScanAPI` is the door's hot path)
- `scanner`: the scanner page for staff phones, its offline data and the batch upload
- `dashboard`: the organisers' live dashboard (page, JSON numbers, chart, event stream)
- `stats`: the dashboard's numbers; `chart`: the arrivals chart (SVG)
- `exports`: the CSV exports; `badges`: name badges to print
- `devices`: door devices paired without a password (`device_api`, `device_pages`,
  `device_queries`)
- `queries`: the entrance's SQL; `schemas`: its msgspec shapes

Registration mounts `CONTROLLERS` and names `SCAN_ROUTE` for the door's hot path; nothing else
of the entrance is used outside.
"""

from registration.entrance.api import SCAN_ROUTE, CheckinAPI, ScanAPI
from registration.entrance.badges import BadgePages
from registration.entrance.dashboard import EntranceAPI, EntrancePages
from registration.entrance.device_api import DevicesAPI, PairingAPI
from registration.entrance.device_pages import DevicePages, PairingPage
from registration.entrance.exports import EntranceExports
from registration.entrance.scanner import ScannerAPI, ScannerPage

CONTROLLERS = [
    ScanAPI,
    CheckinAPI,
    EntranceAPI,
    EntranceExports,
    EntrancePages,
    BadgePages,
    ScannerAPI,
    ScannerPage,
    DevicesAPI,
    PairingAPI,
    DevicePages,
    PairingPage,
]

__all__ = ["CONTROLLERS", "SCAN_ROUTE"]
