"""Ticket QR codes: SVG for the ticket page, PNG for e-mail.

Ticket secrets are 26 characters from an upper-case alphabet of digits and letters, which QR's
alphanumeric mode encodes at 5.5 bits a character: at level Q that is version 2, 25x25 modules,
the fewest and largest modules and so the easiest code for a phone camera at the door.
"""

from __future__ import annotations

import io
from functools import lru_cache
from xml.etree import ElementTree as ET

import png  # pypng, qrcode's own PNG dependency: pure Python, no Pillow needed
import qrcode
from qrcode.constants import ERROR_CORRECT_Q
from qrcode.image.svg import SvgPathFillImage

# The quiet zone of 4 light modules around the code is what ISO/IEC 18004 requires; readers
# find the finder patterns by it.
BORDER = 4


def _qr(secret: str, box_size: int) -> qrcode.QRCode:
    # Level Q restores up to ~25% of the code words: tickets are shown on cracked or greasy
    # phone screens and crumpled print-outs. For a 26-character secret it costs nothing over M
    # (15%), both fit version 2; H (30%) would need version 3 (29x29) with smaller modules.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=BORDER, box_size=box_size)
    code.add_data(secret)
    code.make(fit=True)
    return code


# Rendering is a pure function of its arguments and returns immutable str/bytes, so caching is
# safe: a revoked ticket's code stops working at the check-in, not here, and its secret is never
# reused for another ticket. Bounded so that a large conference cannot grow it without limit.
@lru_cache(maxsize=4096)
def qr_svg(secret: str, label: str | None = None) -> str:
    """The ticket code as an inline <svg> for an HTML page (no XML declaration).

    It fills the width of its container (width="100%", height from the viewBox), so CSS sizes
    it. With a label it is role="img" with that aria-label and <title>; without, it is hidden
    from screen readers (aria-hidden), as the page should then say in text what it is.
    """
    # The Fill variant paints a white background: the code must stay dark-on-light on a page
    # in dark mode, and the quiet zone must be light.
    svg = _qr(secret, box_size=10).make_image(image_factory=SvgPathFillImage).get_image()
    del svg.attrib["height"]
    svg.set("width", "100%")
    svg.set("shape-rendering", "crispEdges")  # no anti-aliased grey between modules
    for path in svg.iter("path"):
        path.attrib.pop("id", None)  # a fixed id would repeat when a page shows several codes
    if label is None:
        svg.set("aria-hidden", "true")
    else:
        svg.set("role", "img")
        svg.set("aria-label", label)
        title = ET.Element("title")
        title.text = label
        svg.insert(0, title)  # first child, as SVG asks
    # ElementTree escapes the label in attributes and text.
    return ET.tostring(svg, encoding="unicode")


@lru_cache(maxsize=4096)
def qr_png(secret: str, *, box_size: int = 8) -> bytes:
    """The ticket code as a greyscale PNG, box_size pixels a module (8: 264x264 pixels)."""
    # qrcode's own PNG factory sets every pixel one call at a time, and 1-bit rows are packed
    # in Python: ≈ 5–8 ms a ticket, most of a ticket mail's rendering. Whole 8-bit rows, each
    # repeated box_size times, give the same picture in well under a millisecond (< 1 kB).
    matrix = _qr(secret, box_size=box_size).get_matrix()  # includes the quiet zone
    rows: list[bytes] = []
    for modules in matrix:
        row = bytes(0 if dark else 255 for dark in modules for _ in range(box_size))
        rows.extend([row] * box_size)
    buffer = io.BytesIO()
    png.Writer(len(rows[0]), len(rows), greyscale=True, bitdepth=8).write(buffer, rows)
    return buffer.getvalue()
