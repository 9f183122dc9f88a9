"""The progress chart (plugin.goals.chart): well-formed SVG, 0-10 axis, points in time order, escaped text."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from plugin.goals.chart import (
    DATE_LABEL_SPACE,
    HEIGHT,
    TOP,
    WIDTH,
    ChartPoint,
    label_indices,
    progress_chart,
    short_dutch_date,
    sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - the module's own output, not untrusted input


def test_points_follow_time_with_a_line_and_a_0_to_10_axis() -> None:
    points = [ChartPoint(date(2026, 5, 12), 5), ChartPoint(date(2026, 2, 3), 3), ChartPoint(date(2026, 8, 1), 8)]
    root = parse(progress_chart(points, chart_id="g1", title="Zelfstandig wonen", description="Drie cijfers"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-g1-title chart-g1-desc"
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.find(f"{SVG}title").text == "Zelfstandig wonen"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Drie cijfers"  # type: ignore[union-attr]

    circles = root.findall(f".//{SVG}circle")
    assert [c.get("data-score") for c in circles] == ["3", "5", "8"]  # sorted by day, not by input order
    xs = [float(c.get("cx", "0")) for c in circles]
    ys = [float(c.get("cy", "0")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert ys[0] > ys[1] > ys[2]  # a higher score is drawn higher up
    assert [c.find(f"{SVG}title").text for c in circles] == ["03-02-2026: 3", "12-05-2026: 5", "01-08-2026: 8"]  # type: ignore[union-attr]

    line = root.find(f".//{SVG}polyline")
    assert line is not None
    assert line.get("points", "").split() == [f"{c.get('cx')},{c.get('cy')}" for c in circles]

    ticks = [t.text for t in root.findall(f"./{SVG}g[@class='chart-grid']/{SVG}text")]
    assert ticks == ["0", "2", "4", "6", "8", "10"]
    dates = [t.text for t in root.findall(f"./{SVG}g[@class='chart-dates']/{SVG}text")]
    assert dates == ["03-02-2026", "12-05-2026", "01-08-2026"]


def test_score_positions_span_the_axis() -> None:
    root = parse(
        progress_chart(
            [ChartPoint(date(2026, 1, 1), 0), ChartPoint(date(2026, 1, 2), 10)],
            chart_id="x",
            title="t",
            description="d",
        )
    )
    grid_lines = root.findall(f"./{SVG}g[@class='chart-grid']/{SVG}line")
    zero_y, ten_y = float(grid_lines[0].get("y1", "0")), float(grid_lines[5].get("y1", "0"))
    low, high = root.findall(f".//{SVG}circle")
    assert float(low.get("cy", "0")) == zero_y and float(high.get("cy", "0")) == ten_y == TOP


def test_one_point_has_no_line_and_none_is_an_empty_frame() -> None:
    single = parse(progress_chart([ChartPoint(date(2026, 3, 1), 4)], chart_id="s", title="t", description="d"))
    assert single.find(f".//{SVG}polyline") is None and len(single.findall(f".//{SVG}circle")) == 1
    empty = parse(progress_chart([], chart_id="e", title="t", description="d"))
    assert empty.findall(f".//{SVG}circle") == [] and empty.findall(f"./{SVG}g[@class='chart-dates']/*") == []


def test_same_day_keeps_the_given_order() -> None:
    day = date(2026, 4, 7)
    root = parse(progress_chart([ChartPoint(day, 6), ChartPoint(day, 2)], chart_id="d", title="t", description="d"))
    assert [c.get("data-score") for c in root.findall(f".//{SVG}circle")] == ["6", "2"]


def test_text_and_ids_are_escaped() -> None:
    hostile = "<script>alert(1)</script> \"quotes\" & 'apostrophes' \u202eRTL \U0001f600"
    svg = progress_chart(
        [ChartPoint(date(2026, 1, 1), 1)],
        chart_id='Goal/1"><script>',
        title=hostile,
        description=hostile,
        date_label=lambda d: f"<b>{d.day}</b>",
    )
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.find(f"{SVG}title").text == hostile  # type: ignore[union-attr]
    assert root.get("id") == "chart-Goal-1---script-"
    assert root.find(f"./{SVG}g[@class='chart-dates']/{SVG}text").text == "<b>1</b>"  # type: ignore[union-attr]


def test_scores_outside_the_scale_are_refused() -> None:
    with pytest.raises(ValueError):
        progress_chart([ChartPoint(date(2026, 1, 1), 11)], chart_id="x", title="t", description="d")
    with pytest.raises(ValueError):
        progress_chart([ChartPoint(date(2026, 1, 1), -1)], chart_id="x", title="t", description="d")


def test_date_labels_thin_out_without_losing_the_first_and_last() -> None:
    assert label_indices(0, 520) == [] and label_indices(1, 520) == [0]
    assert label_indices(3, 520) == [0, 1, 2]
    assert label_indices(8, 520) == [0, 2, 4, 7]
    many = label_indices(20, 520)
    assert many[0] == 0 and many[-1] == 19 and len(many) < 20
    root = parse(
        progress_chart(
            [ChartPoint(date(2026, 1, d), d % 11) for d in range(1, 21)], chart_id="m", title="t", description="d"
        )
    )
    assert len(root.findall(f".//{SVG}circle")) == 20  # every score is drawn, only the labels thin out
    label_xs = [float(t.get("x", "0")) for t in root.findall(f"./{SVG}g[@class='chart-dates']/{SVG}text")]
    assert len(label_xs) == len(many)
    assert all(b - a >= DATE_LABEL_SPACE for a, b in itertools.pairwise(label_xs))  # labels never overlap
    assert min(label_xs) - DATE_LABEL_SPACE / 2 >= 0 and max(label_xs) + DATE_LABEL_SPACE / 2 <= WIDTH


def test_dutch_date() -> None:
    assert short_dutch_date(date(2026, 11, 22)) == "22-11-2026"
    assert short_dutch_date(date(2026, 4, 7)) == "07-04-2026"


def test_sparkline_rises_with_the_scores_and_marks_the_last() -> None:
    root = parse(sparkline([2, 5, 9], chart_id="Goal/1", title="Laatste score: 9 van 10 <&>"))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Laatste score: 9 van 10 <&>"  # escaped in, read back as text
    xs_ys = [tuple(map(float, p.split(","))) for p in root.find(f"{SVG}polyline").get("points").split()]
    assert [x for x, _ in xs_ys] == sorted(x for x, _ in xs_ys)
    ys = [y for _, y in xs_ys]
    assert ys[0] > ys[1] > ys[2]  # higher score, higher on the picture (smaller y)
    dot = root.find(f"{SVG}circle")
    assert (float(dot.get("cx")), float(dot.get("cy"))) == xs_ys[-1]


def test_sparkline_of_one_score_is_a_dot_and_bad_scores_are_refused() -> None:
    root = parse(sparkline([10], chart_id="g", title="t"))
    assert root.find(f"{SVG}polyline") is None and root.find(f"{SVG}circle") is not None
    assert float(root.find(f"{SVG}circle").get("cy")) == 4  # the top of the inner box: 10 of 10
    for bad in ([], [11], [-1]):
        with pytest.raises(ValueError):
            sparkline(bad, chart_id="g", title="t")
