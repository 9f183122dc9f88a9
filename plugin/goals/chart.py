"""A progress chart as inline SVG, made on the server (pure Python: no Flask, no JavaScript, no I/O).

One point per score, in time order, on a 0-10 scale, joined by a line; dates in Dutch format under the
points. The SVG is an image for assistive technology (`role="img"` with `<title>` and `<desc>`); the page
puts a table with the same numbers next to it. Every text is escaped. Colours are presentation attributes,
because the app's Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html import escape

WIDTH = 640
HEIGHT = 280
LEFT, RIGHT, TOP, BOTTOM = 44, 20, 28, 52
EDGE_PAD = 28  # keeps the first and last point (and their date labels) off the axes
DATE_LABEL_SPACE = 84  # width one "07-04-2026" label needs, in SVG units, so labels never overlap
TEXT_COLOUR = "#1b1f24"
AXIS_COLOUR = "#56606b"
GRID_COLOUR = "#d3d8de"
LINE_COLOUR = "#0b5cad"


@dataclass(frozen=True)
class ChartPoint:
    """One score on the chart: the (local) day it was given and the score."""

    day: date
    score: int


def short_dutch_date(day: date) -> str:
    """'07-04-2026': the short date as the Dutch write it."""
    return day.strftime("%d-%m-%Y")


def _safe_id(raw: str) -> str:
    """An XML id from any text (a goal uid may be 'Goal/123'): letters, digits, '-' and '_' only."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", raw)
    return f"chart-{cleaned}"


def _fmt(value: float) -> str:
    """A coordinate with at most one decimal ('12', '12.5')."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def label_indices(count: int, span: float) -> list[int]:
    """Which points get a date label, for `count` points spread evenly over `span` units.

    Every point when the labels fit, else every n-th, so that labels are at least DATE_LABEL_SPACE apart;
    the first and the last point always get one.
    """
    if count <= 0:
        return []
    if count == 1:
        return [0]
    step = max(1, math.ceil(DATE_LABEL_SPACE * (count - 1) / span))
    shown = list(range(0, count, step))
    last = count - 1
    if shown[-1] != last:
        if len(shown) > 1:
            shown[-1] = last  # the gap to the label before it only grows; the latest date matters most
        else:
            shown.append(last)
    return shown


def progress_chart(
    points: Sequence[ChartPoint],
    *,
    chart_id: str,
    title: str,
    description: str,
    date_label: Callable[[date], str] = short_dutch_date,
    max_score: int = 10,
) -> str:
    """The SVG markup of a line chart of `points` (sorted by day here; equal days keep their order).

    `title` and `description` become the chart's accessible name and description; `chart_id` makes the
    element ids unique on a page. Raises ValueError for a score outside 0..max_score.
    """
    ordered = sorted(points, key=lambda p: p.day)
    for point in ordered:
        if not 0 <= point.score <= max_score:
            raise ValueError(f"score {point.score} outside 0..{max_score}")
    base = _safe_id(chart_id)
    plot_left, plot_right = LEFT, WIDTH - RIGHT
    plot_top, plot_bottom = TOP, HEIGHT - BOTTOM
    plot_height = plot_bottom - plot_top

    def y_of(score: float) -> float:
        return plot_bottom - score * plot_height / max_score

    inner_left, inner_right = plot_left + EDGE_PAD, plot_right - EDGE_PAD
    count = len(ordered)

    def x_of(index: int) -> float:
        if count == 1:
            return (inner_left + inner_right) / 2
        return inner_left + index * (inner_right - inner_left) / (count - 1)

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-labelledby="{base}-title {base}-desc" id="{base}">',
        f'<title id="{base}-title">{escape(title)}</title>',
        f'<desc id="{base}-desc">{escape(description)}</desc>',
        '<g class="chart-grid" font-size="12">',
    ]
    for tick in range(0, max_score + 1, 2 if max_score >= 10 else 1):
        tick_y = _fmt(y_of(tick))
        colour = AXIS_COLOUR if tick == 0 else GRID_COLOUR
        parts.append(
            f'<line x1="{plot_left}" y1="{tick_y}" x2="{plot_right}" y2="{tick_y}" stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{plot_left - 8}" y="{tick_y}" text-anchor="end" dominant-baseline="middle" '
            f'fill="{TEXT_COLOUR}">{tick}</text>'
        )
    parts.append(
        f'<line x1="{plot_left}" y1="{plot_top}" x2="{plot_left}" y2="{plot_bottom}" stroke="{AXIS_COLOUR}" '
        'stroke-width="1"/>'
    )
    parts.append("</g>")

    coords = [(x_of(i), y_of(p.score)) for i, p in enumerate(ordered)]
    if count > 1:
        joined = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in coords)
        parts.append(
            f'<polyline class="chart-line" points="{joined}" fill="none" stroke="{LINE_COLOUR}" '
            'stroke-width="2.5" stroke-linejoin="round"/>'
        )
    parts.append(f'<g class="chart-points" font-size="13" font-weight="bold" fill="{TEXT_COLOUR}">')
    for point, (x, y) in zip(ordered, coords, strict=True):
        when = escape(date_label(point.day))
        parts.append(
            f'<circle class="chart-point" cx="{_fmt(x)}" cy="{_fmt(y)}" r="5" fill="{LINE_COLOUR}" '
            f'stroke="#ffffff" stroke-width="1.5" data-score="{point.score}"><title>{when}: {point.score}</title>'
            "</circle>"
        )
        parts.append(f'<text x="{_fmt(x)}" y="{_fmt(y - 10)}" text-anchor="middle">{point.score}</text>')
    parts.append("</g>")
    parts.append(f'<g class="chart-dates" font-size="12" fill="{TEXT_COLOUR}">')
    for index in label_indices(count, inner_right - inner_left):
        label_x, day = _fmt(coords[index][0]), escape(date_label(ordered[index].day))
        parts.append(f'<text x="{label_x}" y="{plot_bottom + 20}" text-anchor="middle">{day}</text>')
    parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 96, 28, 4


def sparkline(scores: Sequence[int], *, chart_id: str, title: str, max_score: int = 10) -> str:
    """A small line of the scores in time order (oldest first), its last point marked: an overview's glance.

    It is an image with an accessible name (`title`, which should say the last score in words); the page shows
    the last score as text next to it, so nothing depends on the picture. Raises ValueError for a score outside
    0..max_score or for no scores at all. The same arguments give the same markup, made once (`_sparkline`).
    """
    return _sparkline(tuple(scores), chart_id, title, max_score)


# An overview shows a line per goal on every view, mostly unchanged since the view before; a line is ~1 KB.
_SPARKLINES_KEPT = 2048


@lru_cache(maxsize=_SPARKLINES_KEPT, typed=True)  # typed: a Markup title escapes differently from a str one
def _sparkline(scores: tuple[int, ...], chart_id: str, title: str, max_score: int) -> str:
    """`sparkline`'s markup (the scores as a tuple: a key). Only the scores' values count (a score is placed by
    arithmetic, never printed), so equal scores of another numeric type give the same line."""
    if not scores:
        raise ValueError("a sparkline needs at least one score")
    for score in scores:
        if not 0 <= score <= max_score:
            raise ValueError(f"score {score} outside 0..{max_score}")
    base = _safe_id(chart_id) + "-spark"
    inner_w, inner_h = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD
    count = len(scores)

    def point(index: int, score: int) -> tuple[float, float]:
        x = SPARK_PAD + (inner_w / 2 if count == 1 else index * inner_w / (count - 1))
        return x, SPARK_PAD + inner_h - score * inner_h / max_score

    coords = [point(i, s) for i, s in enumerate(scores)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" width="{SPARK_WIDTH}" '
        f'height="{SPARK_HEIGHT}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" aria-labelledby="{base}-title" '
        f'id="{base}">',
        f'<title id="{base}-title">{escape(title)}</title>',
        f'<line x1="{SPARK_PAD}" y1="{SPARK_HEIGHT - SPARK_PAD}" x2="{SPARK_WIDTH - SPARK_PAD}" '
        f'y2="{SPARK_HEIGHT - SPARK_PAD}" stroke="{GRID_COLOUR}" stroke-width="1"/>',
    ]
    if count > 1:
        joined = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in coords)
        parts.append(
            f'<polyline points="{joined}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" stroke-linejoin="round"/>'
        )
    last_x, last_y = coords[-1]
    parts.append(f'<circle cx="{_fmt(last_x)}" cy="{_fmt(last_y)}" r="3" fill="{LINE_COLOUR}"/>')
    parts.append("</svg>")
    return "".join(parts)
