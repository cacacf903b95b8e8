"""Server-rendered SVG charts: geometry computed here, drawn by ``_chart.html``.

No scripts and no style attributes (the Content-Security-Policy allows neither): shapes carry
classes that kb.css colours. Each chart has a title and a description for screen readers, and
the page shows its numbers in a table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

WIDTH = 720


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str  # shown on hover (an SVG <title>)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "chart-axis"


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"  # SVG text-anchor: start | middle | end
    css: str = "chart-label"


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    height: float
    width: float = WIDTH
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)


def _r(value: float) -> float:
    return round(value, 1)


def hours(span: timedelta) -> str:
    value = span.total_seconds() / 3600
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def stacked_columns(*, id: str, title: str, desc: str, columns: list[tuple[str, int, int]],
                    base_label: str, top_label: str, height: float = 220) -> Chart:
    """One column per (label, base, top) — e.g. failed searches (base) under the other searches (top)."""
    left, right, top, bottom = 44, 8, 12, 28
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max((b + t for _, b, t in columns), default=0) or 1
    chart = Chart(id=id, title=title, desc=desc, height=height,
                  legend=[("chart-base", base_label), ("chart-top", top_label)])
    y0 = top + plot_h
    chart.lines += [Line(left, y0, WIDTH - right, y0), Line(left, top, WIDTH - right, top, "chart-grid")]
    chart.labels += [Label(left - 6, y0 + 4, "0", "end"), Label(left - 6, top + 4, str(peak), "end")]
    slot = plot_w / max(len(columns), 1)
    bar = max(slot * 0.7, 1)
    every = max(1, len(columns) // 6)  # about six axis labels whatever the period
    for i, (label, base, extra) in enumerate(columns):
        x = left + i * slot + (slot - bar) / 2
        base_h, top_h = plot_h * base / peak, plot_h * extra / peak
        tip = f"{label}: {base + extra} ({base} {base_label.lower()})"
        if base:
            chart.rects.append(Rect(_r(x), _r(y0 - base_h), _r(bar), _r(base_h), "chart-base", tip))
        if extra:
            chart.rects.append(Rect(_r(x), _r(y0 - base_h - top_h), _r(bar), _r(top_h), "chart-top", tip))
        if i % every == 0 or i == len(columns) - 1:
            chart.labels.append(Label(_r(x + bar / 2), y0 + 18, label, "middle"))
    return chart


def columns(*, id: str, title: str, desc: str, values: list[tuple[str, int]], height: float = 200) -> Chart:
    """One labelled column per value, its number above it."""
    left, right, top, bottom = 12, 12, 20, 28
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max((v for _, v in values), default=0) or 1
    chart = Chart(id=id, title=title, desc=desc, height=height)
    y0 = top + plot_h
    chart.lines.append(Line(left, y0, WIDTH - right, y0))
    slot = plot_w / max(len(values), 1)
    bar = slot * 0.6
    for i, (label, value) in enumerate(values):
        x, h = left + i * slot + (slot - bar) / 2, plot_h * value / peak
        if value:
            chart.rects.append(Rect(_r(x), _r(y0 - h), _r(bar), _r(h), "chart-base", f"{label}: {value}"))
        chart.labels += [Label(_r(x + bar / 2), _r(y0 - h - 6), str(value), "middle", "chart-value"),
                         Label(_r(x + bar / 2), y0 + 18, label, "middle")]
    return chart


def duration_bars(*, id: str, title: str, desc: str, rows: list[tuple[str, timedelta, timedelta]]) -> Chart:
    """A horizontal bar per (label, median, p90): the bar is the median, a tick marks p90."""
    left, right, row_h, top = 150, 150, 30, 8
    height = top + row_h * max(len(rows), 1) + 8
    plot_w = WIDTH - left - right
    peak = max((p90.total_seconds() for _, _, p90 in rows), default=0) or 1
    chart = Chart(id=id, title=title, desc=desc, height=height,
                  legend=[("chart-base", "median"), ("chart-marker", "90th percentile")])
    chart.lines.append(Line(left, top, left, height - 8))
    for i, (label, median, p90) in enumerate(rows):
        y = top + i * row_h
        w = plot_w * median.total_seconds() / peak
        x90 = left + plot_w * p90.total_seconds() / peak
        chart.labels.append(Label(left - 8, y + 19, label[:22], "end"))
        chart.rects.append(Rect(left, y + 6, _r(max(w, 1)), 18, "chart-base",
                                f"{label}: median {hours(median)}, p90 {hours(p90)}"))
        chart.lines.append(Line(_r(x90), y + 2, _r(x90), y + 28, "chart-marker"))
        chart.labels.append(Label(_r(max(left + w, x90) + 8), y + 19, f"{hours(median)} · p90 {hours(p90)}",
                                  css="chart-value"))
    return chart
