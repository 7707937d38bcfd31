"""Charts drawn on the server as inline SVG (no script; colours as attributes, allowed by the page's CSP)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from markupsafe import Markup

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 36, 34, 10


def _svg(title: str) -> ET.Element:
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img",
        "class": "chart", "aria-label": title,
    })
    ET.SubElement(svg, "title").text = title
    return svg


def _axes(svg: ET.Element, top: int, labels: Sequence[str]) -> tuple[float, float]:
    """Draw the y scale (0..top) and every n-th x label; return the width of one x step and the plot height."""
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(labels), 1)
    for value in sorted({0, top // 2, top}):
        y = TOP + plot_h - plot_h * value / max(top, 1)
        ET.SubElement(svg, "line", {"x1": str(LEFT), "x2": str(WIDTH - 8), "y1": f"{y:.1f}", "y2": f"{y:.1f}",
                                    "stroke": "#ddd"})
        ET.SubElement(svg, "text", {"x": str(LEFT - 4), "y": f"{y + 4:.1f}", "text-anchor": "end",
                                    "font-size": "10"}).text = str(value)
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if (len(labels) - 1 - i) % every == 0:  # counted from the end: the latest label is always shown
            ET.SubElement(svg, "text", {"x": f"{LEFT + step * (i + 0.5):.1f}", "y": str(HEIGHT - BOTTOM + 14),
                                        "text-anchor": "middle", "font-size": "10"}).text = label
    return step, plot_h


def _legend(svg: ET.Element, names: Sequence[str]) -> None:
    """The series' names under the plot, in as many rows as they need (the chart grows to hold them)."""
    x, row = LEFT, 0
    for i, name in enumerate(names):
        width = 24 + 6 * len(name)
        if x > LEFT and x + width > WIDTH:
            x, row = LEFT, row + 1
        y = HEIGHT + 14 * row
        ET.SubElement(svg, "rect", {"x": str(x), "y": str(y - 12), "width": "10", "height": "10",
                                    "fill": PALETTE[i % len(PALETTE)]})
        ET.SubElement(svg, "text", {"x": str(x + 14), "y": str(y - 3), "font-size": "10"}).text = name
        x += width
    svg.set("viewBox", f"0 0 {WIDTH} {HEIGHT + 14 * row}")


def stacked_bars(title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> Markup:
    """One bar per label, stacked by series (e.g. tagged articles per day, by tag)."""
    svg = _svg(title)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    step, plot_h = _axes(svg, top, labels)
    for i in range(len(labels)):
        y = TOP + plot_h
        for n, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / top
            if values[i]:
                y -= h
                bar = ET.SubElement(svg, "rect", {
                    "x": f"{LEFT + step * i + 1:.1f}", "y": f"{y:.1f}", "width": f"{max(step - 2, 1):.1f}",
                    "height": f"{h:.1f}", "fill": PALETTE[n % len(PALETTE)],
                })
                ET.SubElement(bar, "title").text = f"{labels[i]}: {name} {values[i]}"
    _legend(svg, list(series))
    return Markup(ET.tostring(svg, encoding="unicode"))


def lines(title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> Markup:
    """One line per series over the labels (e.g. statements per month, by speaker)."""
    svg = _svg(title)
    top = max((v for values in series.values() for v in values), default=0) or 1
    step, plot_h = _axes(svg, top, labels)
    for n, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{LEFT + step * (i + 0.5):.1f},{TOP + plot_h - plot_h * v / top:.1f}" for i, v in enumerate(values)
        )
        colour = PALETTE[n % len(PALETTE)]
        line = ET.SubElement(svg, "polyline", {"points": points, "fill": "none", "stroke-width": "2",
                                               "stroke": colour})
        ET.SubElement(line, "title").text = name
        for i, v in enumerate(values):  # a marker per point: a series of one month is a dot, not nothing
            dot = ET.SubElement(svg, "circle", {"cx": f"{LEFT + step * (i + 0.5):.1f}",
                                                "cy": f"{TOP + plot_h - plot_h * v / top:.1f}", "r": "3",
                                                "fill": colour})
            ET.SubElement(dot, "title").text = f"{labels[i]}: {name} {v}"
    _legend(svg, list(series))
    return Markup(ET.tostring(svg, encoding="unicode"))
