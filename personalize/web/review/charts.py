"""Server-rendered SVG charts: no JavaScript, no CDN, readable without colour.

>>> line_chart("Traffic share of hero", "Share of exposures per day.", ["05-01", "05-02"],
...            {"hero-default": [0.6, 0.5], "hero-night": [0.4, 0.5]}, percent=True)
Markup('<svg ...')

Every chart is an ``<svg role="img">`` named by its ``<title>`` and
``<desc>``. Series differ by dash pattern and marker shape as well as by
colour (the Okabe–Ito palette, safe for colour-blind readers), lines carry
their name at their last point, and bars carry their value, so nothing depends
on telling colours apart. The pages put the same numbers in a table next to
each chart for screen readers and copying.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "interval_chart", "line_chart", "nice_ticks"]

#: Okabe & Ito's colour-blind-safe palette, darkened where needed for contrast on white
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8a6d00", "#56B4E9", "#000000")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2", "1 4", "12 4")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "circle-open", "square-open")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (about ``count`` of them)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"expected finite bounds, got {low!r}, {high!r}")
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}" if abs(value * 100 - round(value * 100)) < 1e-9 else f"{value:.1%}"
    return f"{value:.3g}"


def _ids(kind: str, title: str, *parts: object) -> tuple[str, str]:
    digest = hashlib.blake2s(repr((kind, title, parts)).encode(), digest_size=5).hexdigest()
    return f"c{digest}-t", f"c{digest}-d"


def _open(kind: str, title: str, desc: str, width: int, height: int, *parts: object) -> list[str]:
    tid, did = _ids(kind, title, *parts)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{tid} {did}" {FONT}>',
            f'<title id="{tid}">{escape(title)}</title>',
            f'<desc id="{did}">{escape(desc)}</desc>']


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    fill = "white" if shape.endswith("-open") else colour
    base = shape.removesuffix("-open")
    if base == "square":
        return (f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                f'fill="{fill}" stroke="{colour}" stroke-width="1.5"/>')
    if base == "triangle":
        return (f'<path d="M{x:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 3.5:.1f} '
                f'L{x - 4.5:.1f},{y + 3.5:.1f} Z" fill="{fill}" stroke="{colour}"/>')
    if base == "diamond":
        return (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} '
                f'L{x - 5:.1f},{y:.1f} Z" fill="{fill}" stroke="{colour}"/>')
    if base == "cross":
        return (f'<path d="M{x - 4:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 4:.1f} M{x - 4:.1f},'
                f'{y + 4:.1f} L{x + 4:.1f},{y - 4:.1f}" stroke="{colour}" stroke-width="2"/>')
    return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.8" fill="{fill}" stroke="{colour}" '
            f'stroke-width="1.5"/>')


def line_chart(title: str, desc: str, labels: Sequence[str],
               series: Mapping[str, Sequence[float | None]], *, percent: bool = False,
               y_min: float | None = None, y_max: float | None = None,
               width: int = 680, height: int = 260) -> Markup:
    """Lines over time buckets; ``None`` leaves a gap.

    :param labels: the x-axis labels, one per bucket.
    :param series: name → one value (or ``None``) per bucket.
    :param percent: values are shares, shown as percentages.
    :param y_min: the axis' lower end (default: from the data, and 0 for shares).
    :param y_max: the axis' upper end (default: from the data).
    """
    values = [v for line in series.values() for v in line if v is not None]
    for name, line in series.items():
        if len(line) != len(labels):
            raise ValueError(f"series {name!r}: expected {len(labels)} values, got {len(line)}")
    low = y_min if y_min is not None else min([0.0, *values])
    high = y_max if y_max is not None else max([low + (0.0 if values else 1.0), *values])
    ticks = nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    left, right, top, bottom = 52, 150, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)

    def sx(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    out = _open("line", title, desc, width, height, labels, sorted(series))
    out.append('<g class="axes" stroke="#767676" stroke-width="1">')
    for t in ticks:
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#d0d0d0"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
               f'y2="{top + plot_h}"/></g>')
    out.append('<g class="ticks" fill="#333">')
    for t in ticks:
        out.append(f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">'
                   f'{escape(_fmt(t, percent))}</text>')
    room = max(1, int(plot_w // (7.5 * max((len(label) for label in labels), default=1) + 12)))
    every = max(1, math.ceil(n / room))
    for i in range(0, n, every):
        out.append(f'<text x="{sx(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                   f'{escape(labels[i])}</text>')
    out.append("</g>")
    ends: list[tuple[float, str, str]] = []
    for k, (name, line) in enumerate(series.items()):
        colour, dash, marker = (COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)],
                                MARKERS[k % len(MARKERS)])
        path, pen_down, last = [], False, None
        for i, v in enumerate(line):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{sx(i):.1f},{sy(v):.1f}")
            pen_down, last = True, (i, v)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series" data-series="{escape(name)}">')
        if path:
            out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" '
                       f'stroke-width="2"{dash_attr}/>')
        out.extend(_marker(marker, sx(i), sy(v), colour)
                   for i, v in enumerate(line) if v is not None)
        out.append("</g>")
        if last is not None:
            ends.append((sy(last[1]), name, colour))
    out.extend(_direct_labels(ends, left + plot_w + 8, top, top + plot_h))
    if not values:
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
                   f'text-anchor="middle" fill="#333">No data in this period</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _direct_labels(ends: list[tuple[float, str, str]], x: float, top: float,
                   bottom: float) -> list[str]:
    """Names at the lines' ends, nudged apart so none overlaps."""
    placed: list[tuple[float, str, str]] = []
    for y, name, colour in sorted(ends):
        y = max(y, placed[-1][0] + 14 if placed else top + 4)
        placed.append((y, name, colour))
    overflow = placed[-1][0] - (bottom + 4) if placed else 0
    if overflow > 0:
        placed = [(y - overflow, name, colour) for y, name, colour in placed]
    return [f'<text class="direct-label" x="{x:.1f}" y="{y + 4:.1f}" fill="{colour}" '
            f'font-weight="600">{escape(_short(name))}</text>' for y, name, colour in placed]


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[:limit - 1] + "…"


def _patterns(count: int) -> list[str]:
    """Hatching fills, one per bar, so bars differ by texture as well as colour."""
    angles = (0, 45, 90, 135, 22, 67, 112)
    defs = ["<defs>"]
    for k in range(count):
        colour = COLOURS[k % len(COLOURS)]
        defs.append(
            f'<pattern id="hatch{k}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate({angles[k % len(angles)]})">'
            f'<rect width="6" height="6" fill="{colour}" fill-opacity="0.25"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="{1 + k % 3}"/>'
            "</pattern>")
    defs.append("</defs>")
    return defs


def bar_chart(title: str, desc: str, bars: Sequence[tuple[str, float]], *,
              percent: bool = False, width: int = 680) -> Markup:
    """Horizontal bars, each labelled with its name and value.

    :param bars: ``(label, value)`` pairs, drawn top to bottom; values may be negative.
    """
    row, left, right, top = 26, 170, 70, 8
    height = top * 2 + row * max(len(bars), 1)
    values = [v for _, v in bars]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + plot_w * (v - low) / span

    out = _open("bar", title, desc, width, height, list(bars))
    # ids inside <defs> must be unique on the page: prefix them with the chart's own id
    prefix = _ids("bar", title, list(bars))[0]
    out.extend(d.replace('id="hatch', f'id="{prefix}-hatch') for d in _patterns(len(bars)))
    zero = sx(0.0)
    for k, (label, value) in enumerate(bars):
        y = top + k * row
        x0, x1 = sorted((zero, sx(value)))
        colour = COLOURS[k % len(COLOURS)]
        out.append(f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                   f'fill="#222">{escape(_short(label, 26))}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" '
                   f'height="{row - 8}" fill="url(#{prefix}-hatch{k})" stroke="{colour}"/>')
        out.append(f'<text x="{x1 + 6:.1f}" y="{y + row / 2 + 4:.1f}" fill="#222">'
                   f'{escape(_fmt(value, percent))}</text>')
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{height - top}" '
               'stroke="#555"/>')
    out.append("</svg>")
    return Markup("".join(out))


def interval_chart(title: str, desc: str,
                   rows: Sequence[tuple[str, float, float | None, float | None]], *,
                   reference: float | None = 0.0, percent: bool = False,
                   width: int = 680) -> Markup:
    """Estimates with their intervals (a forest plot): a dot, a whisker, a value label.

    :param rows: ``(label, value, low, high)``; ``low``/``high`` may be ``None``.
    :param reference: a vertical reference line (e.g. 0 for "no lift"), or ``None``.
    """
    row, left, right, top, bottom = 30, 170, 150, 8, 24
    height = top + bottom + row * max(len(rows), 1)
    points = [v for _, value, lo, hi in rows for v in (value, lo, hi) if v is not None]
    if reference is not None:
        points.append(reference)
    ticks = nice_ticks(min(points, default=0.0), max(points, default=1.0), 4)
    low, high = ticks[0], ticks[-1]
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + plot_w * (v - low) / (high - low)

    out = _open("interval", title, desc, width, height, list(rows))
    axis_y = top + row * max(len(rows), 1)
    out.append('<g class="ticks" fill="#333">')
    for t in ticks:
        out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{axis_y}" '
                   'stroke="#e0e0e0"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{axis_y + 16}" text-anchor="middle">'
                   f'{escape(_fmt(t, percent))}</text>')
    out.append("</g>")
    if reference is not None:
        out.append(f'<line x1="{sx(reference):.1f}" x2="{sx(reference):.1f}" y1="{top}" '
                   f'y2="{axis_y}" stroke="#555" stroke-dasharray="4 3"/>')
    for k, (label, value, lo, hi) in enumerate(rows):
        y = top + k * row + row / 2
        colour = COLOURS[k % len(COLOURS)]
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#222">'
                   f'{escape(_short(label, 26))}</text>')
        if lo is not None and hi is not None:
            out.append(f'<path d="M{sx(lo):.1f},{y:.1f} H{sx(hi):.1f} M{sx(lo):.1f},'
                       f'{y - 6:.1f} V{y + 6:.1f} M{sx(hi):.1f},{y - 6:.1f} V{y + 6:.1f}" '
                       f'stroke="{colour}" stroke-width="2" fill="none"/>')
        out.append(_marker(MARKERS[k % len(MARKERS)], sx(value), y, colour))
        span = "" if lo is None or hi is None else \
            f" [{_fmt(lo, percent)}, {_fmt(hi, percent)}]"
        out.append(f'<text x="{left + plot_w + 8}" y="{y + 4:.1f}" fill="#222">'
                   f'{escape(_fmt(value, percent) + span)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
