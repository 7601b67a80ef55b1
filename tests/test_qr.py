"""Ticket QR codes: valid SVG and PNG that a real decoder (zxing-cpp) reads back to the secret,
at level Q, version 2, even with a tenth of the symbol blanked out."""

from __future__ import annotations

import io
import random
import re
from xml.etree import ElementTree as ET

import png
import pytest
import qrcode
import zxingcpp  # dev dependency zxing-cpp: the scanner page's zxing-wasm is built from it
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pure import PyPNGImage
from qrcode.util import MODE_ALPHA_NUM

from service.qr import BORDER, _qr, qr_png, qr_svg

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # the ticket alphabet: no 0/O/1/I/L
SECRET = "K7QX2M9WTB4HZR8NPV3CJ6DFGA"
# Fixed, so every run checks the same codes (the mask, and so the damage, differs per secret).
SECRETS = [SECRET, *("".join(random.Random(n).choices(ALPHABET, k=26)) for n in range(11))]
SVG = "{http://www.w3.org/2000/svg}"


def decode(pixels: bytes, width: int, height: int) -> zxingcpp.Barcode | None:
    """Reads one QR code from 8-bit grey pixels (0 black, 255 white); no Pillow/numpy needed."""
    found = zxingcpp.read_barcodes(
        memoryview(pixels).cast("B", (height, width)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    return found[0] if found else None


def png_pixels(data: bytes) -> tuple[bytearray, int, int]:
    width, height, rows, info = png.Reader(bytes=data).read()
    assert info["greyscale"] and not info["alpha"]
    scale = 255 // (2 ** info["bitdepth"] - 1)  # 1-bit or 8-bit grey: to 0..255
    return bytearray(scale * v for row in rows for v in row), width, height


def blank_block(pixels: bytearray, width: int, box: int, row: int, col: int, size: int) -> None:
    """Paints size x size modules white, starting at module (row, col) of the symbol."""
    for y in range((BORDER + row) * box, (BORDER + row + size) * box):
        start = y * width + (BORDER + col) * box
        pixels[start : start + size * box] = b"\xff" * (size * box)


def test_ticket_secret_uses_alphanumeric_mode_version_2() -> None:
    for secret in SECRETS:
        code = _qr(secret, box_size=1)
        assert code.version == 2
        assert code.modules_count == 25
        assert [chunk.mode for chunk in code.data_list] == [MODE_ALPHA_NUM]


@pytest.mark.parametrize("secret", SECRETS)
def test_png_is_valid_and_decodes_to_the_secret(secret: str) -> None:
    data = qr_png(secret)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pixels, width, height = png_pixels(data)
    assert width == height == (25 + 2 * BORDER) * 8
    # The quiet zone is white all round.
    assert set(pixels[: BORDER * 8 * width]) == {255}
    assert set(pixels[-BORDER * 8 * width :]) == {255}
    barcode = decode(bytes(pixels), width, height)
    assert barcode is not None
    assert barcode.text == secret
    assert barcode.ec_level == "Q"
    assert barcode.extra["Version"] == "2"


def test_png_box_size() -> None:
    _, width, height = png_pixels(qr_png(SECRET, box_size=3))
    assert width == height == 33 * 3


def parse_svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 -- our own output, not untrusted input


def svg_modules(svg: ET.Element) -> list[list[bool]]:
    """The dark modules the SVG draws, read from its single path of unit squares."""
    size = int(svg.get("viewBox").split()[2])
    (path,) = svg.iter(f"{SVG}path")
    grid = [[False] * size for _ in range(size)]
    squares = re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H\1z", path.get("d"))
    assert "".join(f"M{x},{y}H{r}V{b}H{x}z" for x, y, r, b in squares) == path.get("d")
    for x, y, right, bottom in squares:
        assert (int(right) - int(x), int(bottom) - int(y)) == (1, 1)
        grid[int(y)][int(x)] = True
    return grid


@pytest.mark.parametrize("secret", SECRETS)
def test_svg_is_inline_svg_and_decodes_to_the_secret(secret: str) -> None:
    text = qr_svg(secret, label="Ticket")
    assert text.startswith("<svg ")  # no XML declaration: goes straight into the HTML
    svg = parse_svg(text)
    assert svg.tag == f"{SVG}svg"
    assert svg.get("viewBox") == "0 0 33 33"
    assert svg.get("width") == "100%"
    assert svg.get("height") is None  # follows the viewBox's aspect ratio
    assert [child.tag for child in svg] == [f"{SVG}title", f"{SVG}rect", f"{SVG}path"]
    assert svg.find(f"{SVG}rect").get("fill") == "white"  # light even on a dark page
    assert svg.find(f"{SVG}path").get("id") is None  # several codes on a page: no repeated id
    scale = 4
    pixels = bytes(
        0 if dark else 255
        for row in svg_modules(svg)
        for _ in range(scale)
        for dark in row
        for _ in range(scale)
    )
    barcode = decode(pixels, 33 * scale, 33 * scale)
    assert barcode is not None
    assert barcode.text == secret


def test_svg_label_is_accessible_and_escaped() -> None:
    label = 'Ticket <b>"Anna & Ömer"</b>'
    text = qr_svg(SECRET, label=label)
    assert "<b>" not in text
    svg = parse_svg(text)
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == label
    assert svg.find(f"{SVG}title").text == label
    unlabelled = parse_svg(qr_svg(SECRET))
    assert unlabelled.get("aria-hidden") == "true"
    assert unlabelled.find(f"{SVG}title") is None


def test_rendering_is_cached() -> None:
    assert qr_svg(SECRET, "x") is qr_svg(SECRET, "x")
    assert qr_png(SECRET) is qr_png(SECRET)
    assert qr_svg.cache_info().maxsize == qr_png.cache_info().maxsize == 4096


# An 8x8 block of modules (~10% of the 625) in the middle of the symbol, clear of the finder,
# timing, alignment and format patterns: only data and error-correction code words.
DAMAGE = {"row": 9, "col": 9, "size": 8}


@pytest.mark.parametrize("secret", SECRETS)
def test_level_q_survives_a_blanked_block(secret: str) -> None:
    pixels, width, height = png_pixels(qr_png(secret))
    blank_block(pixels, width, box=8, **DAMAGE)
    barcode = decode(bytes(pixels), width, height)
    assert barcode is not None
    assert barcode.text == secret


def test_the_same_damage_defeats_level_m() -> None:
    """Why Q: at M (same version 2) the same block breaks most codes."""
    failed = 0
    for secret in SECRETS:
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER, box_size=8)
        code.add_data(secret)
        code.make(fit=True)
        assert code.version == 2
        buffer = io.BytesIO()
        code.make_image(image_factory=PyPNGImage).save(buffer)
        pixels, width, height = png_pixels(buffer.getvalue())
        blank_block(pixels, width, box=8, **DAMAGE)
        barcode = decode(bytes(pixels), width, height)
        failed += barcode is None or barcode.text != secret
    assert failed > len(SECRETS) // 2
