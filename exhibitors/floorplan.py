"""The floor plan as SVG, drawn from the stands' positions (no drawing program).

`render()` is a pure function of the stands (with the names of their exhibitors) and a few
options; the page and the `floorplan.svg` route only load the rows and hand them in.

Drawing rules:
- 1 metre is `SCALE` SVG units; the viewBox covers every stand plus a margin, the legend
  below and (stand-alone) a heading above.
- The three states differ in colour AND pattern, so they survive grey print-outs and colour
  blindness: free = white with a dashed border; booked = solid light-blue fill, solid border
  and the exhibitor's name; blocked = diagonal hatching.
- Dark text on light fills only, on a white background: the same SVG prints well and stays
  legible inside a page in dark mode.
- The picture has a <title> and a <desc>; the description says in words what the picture
  shows (counts, who is on which stand). Booked stands link to the exhibitor's entry in the
  public directory. Inline in the directory page the plan is then a `role="group"` named
  by the title and described by the description; each link is a focus stop named by its
  <title> ("Stand A4: …"), in reading order, and the drawn texts are hidden from screen
  readers. (Links inside `role="img"` would be controls nested in an image, which assistive
  technology cannot use; axe: nested-interactive.) Without links (no booked stand), and as
  the stand-alone .svg file, the plan is `role="img"`; the file's links stay out of the tab
  order there (tabindex="-1").
- All text goes through ElementTree, which escapes it; characters that XML 1.0 cannot carry
  (control characters) are dropped, so any organisation name yields well-formed, inert XML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from exhibitors.options import stand_state_name
from service.i18n import gettext as _
from service.i18n import ngettext

SVG_NS = "http://www.w3.org/2000/svg"
SCALE = 40.0  # SVG units per metre: 16-unit text fits a 2 m stand
MARGIN = 48.0  # around the stands; room for the area labels above the top row
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, 'Liberation Sans', sans-serif"
CHAR_WIDTH = 0.6  # average glyph advance of the sans-serif above, in ems (generous)
NAME_CHAR_WIDTH = 0.55  # names are mostly lower case

INK = "#1a1d21"  # text: 16.9:1 on white, 13:1 on the booked fill
HALO = "#ffffff"
FREE_FILL = "#ffffff"
FREE_STROKE = "#53595f"  # 7.1:1 on white
BOOKED_FILL = "#cfe2f6"
BOOKED_STROKE = "#0a4f8f"
BLOCKED_BASE = "#eceef1"
BLOCKED_LINES = "#6b7280"
HIGHLIGHT = "#b3141f"  # a thick ring, 6.9:1 on white

# XML 1.0 Char: tab, newline, carriage return and everything from U+0020 except surrogates
# and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class PlanStand:
    """One stand as the plan needs it: position and size in metres, state, exhibitor."""

    code: str
    x: float
    y: float
    width: float
    depth: float
    area: str = ""
    blocked: bool = False
    exhibitor: str | None = None
    exhibitor_id: int | None = None

    @property
    def status(self) -> str:
        if self.exhibitor is not None:
            return "booked"
        return "blocked" if self.blocked else "free"


def plan_stands(rows: Iterable[Mapping[str, Any]]) -> list[PlanStand]:
    """Rows of `queries.stands()` (stand columns plus booked_by, booking_id)."""
    return [
        PlanStand(
            code=row["code"],
            x=float(row["x"]),
            y=float(row["y"]),
            width=float(row["width_m"]),
            depth=float(row["depth_m"]),
            area=row["area"] or "",
            blocked=bool(row["blocked"]),
            exhibitor=row["booked_by"],
            exhibitor_id=row["booking_id"],
        )
        for row in rows
    ]


def clean(text: str) -> str:
    """The text without characters XML 1.0 cannot carry (ElementTree would write them)."""
    return _NOT_XML.sub("", text)


def directory_url(slug: str) -> str:
    return f"/conferences/{slug}/exhibitors"


def exhibitor_url(slug: str, exhibitor_id: int) -> str:
    return f"{directory_url(slug)}#exhibitor-{exhibitor_id}"


def _n(value: float) -> str:
    """A coordinate without noise: 120, 12.5, 0.33."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _fits(font_size: float, width: float, em: float = CHAR_WIDTH) -> int:
    """How many characters of this size fit into this width (estimated)."""
    return max(1, math.floor(width / (font_size * em)))


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "…"


def wrap(text: str, limit: int, lines: int) -> list[str]:
    """At most `lines` lines of at most `limit` characters. Words longer than a line are
    cut with a hyphen; what does not fit ends in an ellipsis (the stand's <title> and the
    directory have the full name)."""
    limit = max(2, limit)
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while len(current) > limit:
            out.append(current[: limit - 1] + "-")
            current = current[limit - 1 :]
    if current:
        out.append(current)
    if len(out) <= lines:
        return out
    kept, last = out[: lines - 1], out[lines - 1].removesuffix("-")
    if len(last) >= limit:  # room for the ellipsis: drop the last word, else a letter
        last = last.rsplit(" ", 1)[0] if " " in last else last[: limit - 1]
    return [*kept, last.rstrip() + "…"]


def fit_name(name: str, width: float, height: float) -> tuple[float, list[str]]:
    """The largest type (12 down to 9 units, at most 3 lines) that shows the whole name
    without cutting a word; else the smallest, wrapped and shortened with an ellipsis."""
    for size in (12.0, 11.0, 10.0, 9.0):
        count = min(3, math.floor(height / (size * 1.2)))
        limit = _fits(size, width, NAME_CHAR_WIDTH)
        if count < 1:
            continue
        lines = wrap(name, limit, count)
        if " ".join(lines) == " ".join(name.split()):
            return size, lines
    size = 9.0 if height >= 9.0 * 1.2 else 7.0
    count = max(1, min(3, math.floor(height / (size * 1.2))))
    return size, wrap(name, _fits(size, width, NAME_CHAR_WIDTH), count)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(
        parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()}
    )
    if text is not None:
        element.text = clean(text)
    return element


def _text(
    parent: ET.Element, x: float, y: float, text: str, size: float, *, halo: bool = False, **attrs
) -> ET.Element:
    if halo:
        # A white outline under the letters keeps them legible on the hatching.
        attrs.update(
            stroke=HALO,
            stroke_width=_n(size / 4),
            stroke_linejoin="round",
            paint_order="stroke",
        )
    return _el(parent, "text", text, x=_n(x), y=_n(y), font_size=_n(size), fill=INK, **attrs)


def _swatch_style(status: str) -> dict[str, str]:
    if status == "booked":
        return {"fill": BOOKED_FILL, "stroke": BOOKED_STROKE, "stroke-width": "2.5"}
    if status == "blocked":
        return {"fill": "url(#fp-hatch)", "stroke": FREE_STROKE, "stroke-width": "2"}
    return {
        "fill": FREE_FILL,
        "stroke": FREE_STROKE,
        "stroke-width": "2",
        "stroke-dasharray": "8 5",
    }


def _defs(svg: ET.Element) -> None:
    defs = _el(svg, "defs")
    hatch = _el(
        defs,
        "pattern",
        id="fp-hatch",
        patternUnits="userSpaceOnUse",
        width=10,
        height=10,
        patternTransform="rotate(45)",
    )
    _el(hatch, "rect", width=10, height=10, fill=BLOCKED_BASE)
    _el(hatch, "line", x1=0, y1=0, x2=0, y2=10, stroke=BLOCKED_LINES, stroke_width=4)


def _stand(parent: ET.Element, stand: PlanStand, slug: str, *, focusable: bool) -> None:
    x, y = stand.x * SCALE, stand.y * SCALE
    w, h = stand.width * SCALE, stand.depth * SCALE
    status = stand.status
    group = _el(
        parent,
        "g",
        class_=f"fp-stand fp-{status}",
        data_code=stand.code,
        data_status=status,
    )
    holder: ET.Element = group
    if status == "booked":
        group.set("data-exhibitor-id", str(stand.exhibitor_id))
        link = {} if focusable else {"tabindex": -1}
        holder = _el(group, "a", href=exhibitor_url(slug, stand.exhibitor_id or 0), **link)
        hover = _("Stand %(code)s: %(name)s", code=stand.code, name=stand.exhibitor or "")
    else:
        hover = _("Stand %(code)s (%(status)s)", code=stand.code, status=stand_state_name(status))
    _el(holder, "title", hover)
    _el(holder, "rect", x=_n(x), y=_n(y), width=_n(w), height=_n(h), **_swatch_style(status))

    pad = min(4.0, w / 10)
    inner = max(1.0, w - 2 * pad)
    code_size = max(7.0, min(16.0, h * 0.3, inner / (len(stand.code) * CHAR_WIDTH * 1.1)))
    lines: list[str] = []
    name_size = 12.0
    if status == "booked":
        name_size, lines = fit_name(
            clean(stand.exhibitor or ""), inner, h - 2 * pad - code_size * 1.2
        )
    block = code_size * 1.2 + len(lines) * name_size * 1.2
    top = y + max(0.0, (h - block) / 2)
    cx = x + w / 2
    halo = status == "blocked"
    _text(
        holder,
        cx,
        top + code_size * 0.95,
        stand.code,
        code_size,
        halo=halo,
        class_="fp-code",
        font_weight="bold",
        text_anchor="middle",
    )
    if lines:
        name = _text(
            holder, cx, top + code_size * 1.2, "", name_size, class_="fp-name", text_anchor="middle"
        )
        name.text = None
        for line in lines:
            _el(name, "tspan", line, x=_n(cx), dy=_n(name_size * 1.2))


def _area_labels(parent: ET.Element, stands: Sequence[PlanStand]) -> None:
    """The area's name above its stands, where that space is free of other stands."""
    areas: dict[str, list[PlanStand]] = {}
    for stand in stands:
        if stand.area.strip():
            areas.setdefault(stand.area.strip(), []).append(stand)
    if not areas:
        return
    size = 15.0
    for area, members in areas.items():
        left = min(s.x for s in members) * SCALE
        top = min(s.y for s in members) * SCALE
        right = max(s.x + s.width for s in members) * SCALE
        label = _truncate(clean(area), _fits(size, right - left + MARGIN))
        box = (left, top - size * 1.5, left + len(label) * size * CHAR_WIDTH, top)
        # By identity: `s not in members` compared dataclasses field by field, for every
        # stand against every member (45 of the plan's 55 ms at 500 stands).
        own = {id(s) for s in members}
        clash = any(
            s.x * SCALE < box[2]
            and (s.x + s.width) * SCALE > box[0]
            and s.y * SCALE < box[3]
            and (s.y + s.depth) * SCALE > box[1]
            for s in stands
            if id(s) not in own
        )
        if not clash:
            _text(
                parent, left, top - size * 0.45, label, size, class_="fp-area", font_style="italic"
            )


def render(
    stands: Sequence[PlanStand],
    *,
    slug: str,
    title: str,
    highlight: str | None = None,
    standalone: bool = True,
) -> str:
    """The plan as SVG text. `standalone` adds the XML declaration and a visible heading
    (for the .svg file and its print-out); inline in a page the page has the heading."""
    svg = build(stands, slug=slug, title=title, highlight=highlight, standalone=standalone)
    text = ET.tostring(svg, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text if standalone else text


def build(
    stands: Sequence[PlanStand],
    *,
    slug: str,
    title: str,
    highlight: str | None = None,
    standalone: bool = True,
) -> ET.Element:
    """The plan as an ElementTree <svg> element (see `render`)."""
    highlighted = next((s for s in stands if highlight and s.code == highlight), None)
    if highlighted is None and highlight:
        folded = highlight.casefold()
        highlighted = next((s for s in stands if s.code.casefold() == folded), None)

    if stands:
        left = min(s.x for s in stands) * SCALE - MARGIN
        top = min(s.y for s in stands) * SCALE - MARGIN
        right = max(s.x + s.width for s in stands) * SCALE + MARGIN
        bottom = max(s.y + s.depth for s in stands) * SCALE + MARGIN
    else:
        left, top, right, bottom = 0.0, 0.0, 480.0, 80.0

    # The legend (and the heading) grow with large plans so they stay readable when the
    # picture is scaled down to the screen.
    k = max(1.0, (right - left) / 900)
    statuses = [
        ("free", _("Free")),
        ("booked", _("Booked (with the exhibitor's name)")),
        ("blocked", _("Blocked (not bookable)")),
    ]
    if highlighted is not None:
        statuses.append(("highlight", _("Stand %(code)s", code=highlighted.code)))
    label_size, swatch_w, swatch_h, gap = 14 * k, 40 * k, 26 * k, 24 * k
    widths = [swatch_w + 8 * k + len(label) * label_size * CHAR_WIDTH for _s, label in statuses]
    right = max(right, left + MARGIN + max(widths) + MARGIN)
    usable = right - left - 2 * MARGIN
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, item_width in enumerate(widths):
        if rows[-1] and used + gap + item_width > usable:
            rows.append([])
            used = 0.0
        used += (gap if rows[-1] else 0.0) + item_width
        rows[-1].append(i)
    legend_top = bottom
    bottom = legend_top + len(rows) * (swatch_h + 12 * k) + MARGIN / 2

    heading_size = 20 * k
    if standalone:
        top -= heading_size * 2

    width, height = right - left, bottom - top
    links = not standalone and any(s.status == "booked" for s in stands)
    names = (
        {"role": "group", "aria-labelledby": "fp-title", "aria-describedby": "fp-desc"}
        if links
        else {"role": "img", "aria-labelledby": "fp-title fp-desc"}
    )
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": " ".join(_n(v) for v in (left, top, width, height)),
            "width": _n(width),
            "height": _n(height),
            **names,
            "class": "floorplan",
            "font-family": FONT,
        },
    )
    _el(svg, "title", _("Floor plan: %(title)s", title=title), id="fp-title")
    _el(svg, "desc", describe(stands, highlighted), id="fp-desc")
    _defs(svg)
    _el(
        svg,
        "rect",
        class_="fp-background",
        x=_n(left),
        y=_n(top),
        width=_n(width),
        height=_n(height),
        fill="#ffffff",
    )
    if standalone:
        heading = _("Floor plan: %(title)s", title=clean(title))
        _text(
            svg,
            left + MARGIN,
            top + heading_size * 1.4,
            _truncate(heading, _fits(heading_size, width - 2 * MARGIN)),
            heading_size,
            class_="fp-heading",
            font_weight="bold",
        )

    if not stands:
        _text(svg, left + MARGIN, top + MARGIN, _("No stands yet."), 16, class_="fp-empty")
    _area_labels(svg, stands)
    plan = _el(svg, "g", class_="fp-stands")
    # Row by row, left to right: the order in which Tab and screen readers meet the stands.
    for stand in sorted(stands, key=lambda s: (s.y, s.x)):
        _stand(plan, stand, slug, focusable=links)

    if highlighted is not None:
        ring = 6.0
        _el(
            svg,
            "rect",
            class_="fp-highlight",
            data_code=highlighted.code,
            x=_n(highlighted.x * SCALE - ring),
            y=_n(highlighted.y * SCALE - ring),
            width=_n(highlighted.width * SCALE + 2 * ring),
            height=_n(highlighted.depth * SCALE + 2 * ring),
            fill="none",
            stroke=HIGHLIGHT,
            stroke_width=5,
            rx=4,
        )

    legend = _el(svg, "g", class_="fp-legend")
    for r, row in enumerate(rows):
        x = left + MARGIN
        y = legend_top + r * (swatch_h + 12 * k)
        for i in row:
            status, label = statuses[i]
            if status == "highlight":
                style = {
                    "fill": FREE_FILL,
                    "stroke": HIGHLIGHT,
                    "stroke-width": _n(5 * k),
                    "rx": "4",
                }
            else:
                style = _swatch_style(status)
            _el(
                legend,
                "rect",
                class_=f"fp-swatch fp-{status}",
                x=_n(x),
                y=_n(y),
                width=_n(swatch_w),
                height=_n(swatch_h),
                **style,
            )
            _text(
                legend,
                x + swatch_w + 8 * k,
                y + swatch_h * 0.5 + label_size * 0.35,
                label,
                label_size,
            )
            x += widths[i] + gap

    if links:
        # A group's texts would be read one by one ("A2 A3", names cut to fit): the links'
        # titles name the booked stands and the description says the rest.
        for text in svg.iter("text"):
            text.set("aria-hidden", "true")
    return svg


def describe(stands: Sequence[PlanStand], highlighted: PlanStand | None = None) -> str:
    """What the picture shows, in words (the <desc>)."""
    counts = {status: 0 for status in ("free", "booked", "blocked")}
    for stand in stands:
        counts[stand.status] += 1
    parts = [
        ngettext("%(num)s stand:", "%(num)s stands:", len(stands)),
        _(
            "%(booked)s booked, %(free)s free, %(blocked)s blocked.",
            booked=counts["booked"],
            free=counts["free"],
            blocked=counts["blocked"],
        ),
    ]
    booked = sorted((s for s in stands if s.exhibitor is not None), key=lambda s: s.code)
    if booked:
        parts.append(
            _("Exhibitors:")
            + " "
            + "; ".join(
                _("stand %(code)s %(name)s", code=s.code, name=clean(s.exhibitor or ""))
                for s in booked
            )
            + "."
        )
    if highlighted is not None:
        parts.append(_("Highlighted: stand %(code)s.", code=highlighted.code))
    return " ".join(parts)
