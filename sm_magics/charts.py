"""Tiny inline-SVG line charts for metric curves.

An SVG string in an ``HTML`` widget redraws in the browser with no JavaScript, no
matplotlib in the kernel, and follows JupyterLab's theme through CSS variables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Literal

WIDTH = 280
HEIGHT = 120
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 44, 8, 20, 18


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _fmt_seconds(seconds: float) -> str:
    """``0s``, ``30ms``, ``6.0s``, ``42s``, ``3m 05s``, ``2h 07m``: a label of elapsed time."""
    if seconds < 0:
        return "-" + _fmt_seconds(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:  # a run that logged within its first second: "30ms", not "0.0s"
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def line_chart_svg(title: str, points: Sequence[tuple[float, float]]) -> str:
    """Return an SVG line chart of ``(x, y)`` points with the title and the last value.

    ``x`` is seconds since the job started: the time axis runs from that start (``0s``)
    to the last point, labelled at both ends, so a curve that began late shows it and a
    reader sees when each value came (one end label alone read as a span). No point gives
    an empty frame, so a chart can be shown before its first value arrives; one point is a
    dot.
    """
    inner_w = WIDTH - _PAD_LEFT - _PAD_RIGHT
    inner_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    last = f" = {_fmt(points[-1][1])}" if points else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'style="font:11px var(--jp-ui-font-family, sans-serif);'
        'fill:var(--jp-ui-font-color1, #333)">',
        f'<text x="{_PAD_LEFT}" y="13" font-weight="600">{escape(title)}{escape(last)}</text>',
        f'<rect x="{_PAD_LEFT}" y="{_PAD_TOP}" width="{inner_w}" height="{inner_h}" '
        'fill="none" stroke="var(--jp-border-color2, #ccc)"/>',
    ]
    # A diverging metric logs nan/inf: the title shows it, the curve skips it.
    points = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    if points:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        # From the job's start (0) unless a point came before it (clocks disagree).
        x0, x1 = min(min(xs), 0.0), max(max(xs), 0.0)
        y0, y1 = min(ys), max(ys)
        if x1 == x0:
            x1 = x0 + 1  # one point at the start: a one-second axis, the dot at its left
        if y1 == y0:
            # A flat curve (or a single point): a margin of a tenth of the value around it,
            # so the axis reads 0.87-1.06 for 0.96 rather than 0.46-1.46.
            margin = abs(y0) * 0.1 or 1.0
            y0, y1 = y0 - margin, y1 + margin
        # Above 2**53 the +1 / +-0.5 above are lost to rounding: never divide by zero.
        x_span, y_span = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        coords = " ".join(
            f"{_PAD_LEFT + (x - x0) / x_span * inner_w:.1f},"
            f"{_PAD_TOP + (1 - (y - y0) / y_span) * inner_h:.1f}"
            for x, y in points
        )
        if len(points) == 1:
            # One value so far: a dot (a polyline of one point draws nothing).
            cx, cy = coords.split(",")
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="3" fill="var(--jp-brand-color1, #1976d2)"/>'
            )
        parts += [
            f'<polyline points="{coords}" fill="none" stroke-width="1.6" '
            'stroke="var(--jp-brand-color1, #1976d2)"/>',
            f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 9}" text-anchor="end">{_fmt(y1)}</text>',
            f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + inner_h}" text-anchor="end">'
            f"{_fmt(y0)}</text>",
            f'<text x="{_PAD_LEFT}" y="{HEIGHT - 4}">{_fmt_seconds(x0)}</text>',
            f'<text x="{WIDTH - _PAD_RIGHT}" y="{HEIGHT - 4}" text-anchor="end">'
            f"{_fmt_seconds(x1)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


#: Colours of overlaid curves, cycled (JupyterLab's theme colours where it has them).
SERIES_COLOURS = (
    "var(--jp-brand-color1, #1976d2)",
    "var(--jp-warn-color1, #f57c00)",
    "var(--jp-success-color1, #388e3c)",
    "var(--jp-error-color1, #d32f2f)",
    "#7b1fa2",
    "#00838f",
    "#6d4c41",
    "#c2185b",
)


#: Curve labels longer than this are cut in the middle (run names share their prefix and
#: differ at the end: "churn-small" and "churn-large" must both stay readable).
LABEL_CHARS = 24


def _short(label: str) -> str:
    if len(label) <= LABEL_CHARS:
        return label
    keep = LABEL_CHARS - 1
    return f"{label[: keep - keep // 2]}…{label[-(keep // 2) :]}"


#: Pixels between two end labels' baselines (11 px text).
LABEL_GAP = 11.0


def _spread(baselines: list[float], top: float, bottom: float) -> list[float]:
    """Move end labels apart so none overlaps another, keeping their order and range.

    Curves that converge (tuning trials reaching the same objective) end at almost the
    same height, and their labels were drawn over each other. Each label keeps its own
    height where there is room; otherwise it is pushed down below its neighbour, and the
    whole run back up if it would leave the chart.
    """
    order = sorted(range(len(baselines)), key=lambda i: baselines[i])
    placed = [min(max(baselines[i], top), bottom) for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + LABEL_GAP)
    if placed and placed[-1] > bottom:  # pushed out at the bottom: the run goes back up
        placed[-1] = bottom
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - LABEL_GAP)
    # More labels than rows: the top ones would leave the chart; they share the top row.
    placed = [max(top, y) for y in placed]
    result = [0.0] * len(baselines)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def _x_label(x: float, axis: str) -> str:
    return _fmt_seconds(x) if axis == "seconds" else f"step {_fmt(x)}"


def lines_chart_svg(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_axis: Literal["step", "seconds"] = "step",
) -> str:
    """Return an SVG chart of several ``(x, y)`` curves on shared axes, one colour each.

    For tuning: each trial's objective by step, overlaid, so a trial that lags the others
    shows at a glance; for ``%sm_compare``, each run's metric by seconds since its start.
    Each curve ends in a dot with its label; one point is a dot. The x axis is labelled at
    both ends (``step 1`` ... ``step 12``, ``0s`` ... ``3m 05s``): one end alone read as a
    span.
    """
    labels = {label: _short(label) for label in series}
    # Room right of the plot for the curves' end labels (11 px text: ~6.5 px a character).
    room = 12 + round(6.5 * max((len(short) for short in labels.values()), default=0))
    width, height = WIDTH + 80 + room, HEIGHT + 40
    inner_w = width - _PAD_LEFT - _PAD_RIGHT - room
    inner_h = height - _PAD_TOP - _PAD_BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'style="font:11px var(--jp-ui-font-family, sans-serif);'
        'fill:var(--jp-ui-font-color1, #333)">',
        f'<text x="{_PAD_LEFT}" y="13" font-weight="600">{escape(title)}</text>',
        f'<rect x="{_PAD_LEFT}" y="{_PAD_TOP}" width="{inner_w}" height="{inner_h}" '
        'fill="none" stroke="var(--jp-border-color2, #ccc)"/>',
    ]
    clean = {
        label: [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
        for label, points in series.items()
    }
    everything = [p for points in clean.values() for p in points]
    if everything:
        xs = [p[0] for p in everything]
        ys = [p[1] for p in everything]
        x0, x1 = min(xs), max(xs)
        if x_axis == "seconds":  # from the runs' start, as a single job's chart
            x0, x1 = min(x0, 0.0), max(x1, 0.0)
        y0, y1 = min(ys), max(ys)
        if x1 == x0 and x_axis == "seconds":
            x1 = x0 + 1  # every value in the same instant: a one-second axis from the start
        elif x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 == y0:
            margin = abs(y0) * 0.05 or 0.5
            y0, y1 = y0 - margin, y1 + margin
        x_span, y_span = (x1 - x0) or 1.0, (y1 - y0) or 1.0

        def at(x: float, y: float) -> tuple[float, float]:
            return (
                _PAD_LEFT + (x - x0) / x_span * inner_w,
                _PAD_TOP + (1 - (y - y0) / y_span) * inner_h,
            )

        ends: list[tuple[str, str, float, float]] = []  # label, colour, where the curve ends
        for index, (label, points) in enumerate(sorted(clean.items())):
            if not points:
                continue
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            coords = [at(x, y) for x, y in points]
            if len(coords) > 1:
                joined = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
                parts.append(
                    f'<polyline points="{joined}" fill="none" stroke-width="1.4" '
                    f'stroke="{colour}"/>'
                )
            last_x, last_y = coords[-1]
            parts.append(f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="{colour}"/>')
            ends.append((label, colour, last_x, last_y))
        baselines = _spread([y + 3 for _, _, _, y in ends], _PAD_TOP + 8, height - 6)
        for (label, colour, last_x, _), baseline in zip(ends, baselines, strict=True):
            parts.append(
                f'<text x="{last_x + 4:.1f}" y="{baseline:.1f}" fill="{colour}">'
                f"<title>{escape(label)}</title>{escape(labels[label])}</text>"
            )
        parts += [
            f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 9}" text-anchor="end">{_fmt(y1)}</text>',
            f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + inner_h}" text-anchor="end">'
            f"{_fmt(y0)}</text>",
            f'<text x="{_PAD_LEFT}" y="{height - 4}">{_x_label(x0, x_axis)}</text>',
            f'<text x="{_PAD_LEFT + inner_w}" y="{height - 4}" text-anchor="end">'
            f"{_x_label(x1, x_axis)}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)
