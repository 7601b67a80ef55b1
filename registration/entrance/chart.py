"""The arrivals chart: bars per quarter hour as an inline SVG, drawn on the server."""

from __future__ import annotations

from math import ceil
from xml.etree import ElementTree as ET

from registration.entrance.schemas import Interval
from service import i18n
from service.i18n import gettext as _

SVG_NS = "http://www.w3.org/2000/svg"
CHART_WIDTH, CHART_HEIGHT = 640, 260
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44, 12, 24, 44
BAR_COLOUR = "#0a4f8f"  # --primary; the stylesheet's .chart-bar overrides it (dark scheme)


def _span(interval: Interval, zone: str) -> str:
    return f"{i18n.format_clock(interval.start, zone)}–{i18n.format_clock(interval.end, zone)}"


def chart_description(intervals: list[Interval], zone: str) -> str:
    if not intervals:
        return _("No arrivals yet.")
    peak = max(intervals, key=lambda i: i.arrivals)
    return _(
        "%(total)s arrivals from %(start)s to %(end)s. The busiest quarter of an hour was "
        "%(peak_span)s with %(peak)s arrivals. The table below lists every quarter of an hour.",
        total=sum(i.arrivals for i in intervals),
        start=i18n.format_clock(intervals[0].start, zone),
        end=i18n.format_clock(intervals[-1].end, zone),
        peak_span=_span(peak, zone),
        peak=peak.arrivals,
    )


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> None:
    element = ET.SubElement(parent, "text", x=f"{x:.1f}", y=f"{y:.1f}", fill="currentColor")
    for name, value in attrs.items():
        element.set(name.replace("_", "-"), value)
    element.text = text


def arrivals_svg(intervals: list[Interval], zone: str) -> str:
    """Arrivals per quarter hour as bars: an inline <svg> with <title> and <desc>; being an
    image to assistive technology, it is followed on the page by the same data as a table."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {CHART_WIDTH} {CHART_HEIGHT}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": "arrivals-chart-title arrivals-chart-desc",
            "class": "chart",
            "font-size": "13",
        },
    )
    ET.SubElement(svg, "title", id="arrivals-chart-title").text = _("Arrivals per 15 minutes")
    ET.SubElement(svg, "desc", id="arrivals-chart-desc").text = chart_description(intervals, zone)
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    baseline = PLOT_TOP + plot_height
    ET.SubElement(
        svg,
        "line",
        x1=str(PLOT_LEFT),
        y1=str(baseline),
        x2=str(CHART_WIDTH - PLOT_RIGHT),
        y2=str(baseline),
        stroke="currentColor",
    )
    if not intervals:
        _text(svg, CHART_WIDTH / 2, baseline / 2 + 8, _("No arrivals yet."), text_anchor="middle")
        return ET.tostring(svg, encoding="unicode")
    peak = max(i.arrivals for i in intervals) or 1
    _text(svg, PLOT_LEFT - 6, PLOT_TOP + 5, str(peak), text_anchor="end")
    _text(svg, PLOT_LEFT - 6, baseline + 4, "0", text_anchor="end")
    slot = plot_width / max(len(intervals), 12)  # a lone bar stays a bar
    gap = min(4.0, slot * 0.2)
    label_every = max(1, ceil(len(intervals) / 8))
    for index, interval in enumerate(intervals):
        x = PLOT_LEFT + index * slot
        height = plot_height * interval.arrivals / peak
        ET.SubElement(
            svg,
            "rect",
            {
                "x": f"{x + gap / 2:.1f}",
                "y": f"{baseline - height:.1f}",
                "width": f"{slot - gap:.1f}",
                "height": f"{height:.1f}",
                "fill": BAR_COLOUR,
                "class": "chart-bar",
            },
        )
        if interval.arrivals and len(intervals) <= 24:
            _text(
                svg,
                x + slot / 2,
                baseline - height - 4,
                str(interval.arrivals),
                text_anchor="middle",
            )
        if index % label_every == 0:
            clock = i18n.format_clock(interval.start, zone)
            _text(svg, x + slot / 2, baseline + 18, clock, text_anchor="middle")
    return ET.tostring(svg, encoding="unicode")
