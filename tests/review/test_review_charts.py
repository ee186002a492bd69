"""The SVG charts: well-formed, named for screen readers, readable without colour."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from personalize.web.review.charts import bar_chart, interval_chart, line_chart, nice_ticks

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img"
    title, desc = root.find("svg:title", NS), root.find("svg:desc", NS)
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


CHARTS = [
    pytest.param(lambda: line_chart("Share <of> hero", "Per day & variant.", ["Mon", "Tue", "Wed"],
                                    {"a": [0.5, None, 0.25], "b & c": [0.5, 1.0, 0.75]},
                                    percent=True), id="line"),
    pytest.param(lambda: line_chart("Empty", "Nothing.", ["Mon"], {"a": [None]}), id="line-empty"),
    pytest.param(lambda: bar_chart("Bars", "Two bars.", [("a", 3.0), ("b", -1.5)]), id="bar"),
    pytest.param(lambda: interval_chart("Lift", "One.", [("Lift", 0.2, -0.1, 0.5),
                                                         ("No interval", 0.1, None, None)]),
                 id="interval"),
]


@pytest.mark.parametrize("make", CHARTS)
def test_charts_are_well_formed_named_svg(make: object) -> None:
    markup = make()  # type: ignore[operator]
    root = parse(markup)
    drawn = [root.find(f".//svg:{shape}", NS) for shape in ("path", "rect", "line")]
    assert any(shape is not None for shape in drawn)


def test_line_chart_escapes_text_and_labels_lines_directly() -> None:
    root = parse(line_chart("Share <of> hero", "Per day & variant.", ["Mon", "Tue", "Wed"],
                            {"a": [0.5, None, 0.25], "b & c": [0.5, 1.0, 0.75]}, percent=True))
    assert root.find("svg:title", NS).text == "Share <of> hero"  # type: ignore[union-attr]
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")
              if t.get("class") == "direct-label"]
    assert sorted(labels) == ["a", "b & c"]  # type: ignore[type-var]
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "100%" in ticks and "0%" in ticks


def test_line_series_differ_without_colour_and_gaps_break_the_line() -> None:
    root = parse(line_chart("T", "D", ["1", "2", "3"],
                            {"a": [0.5, None, 0.25], "b": [0.5, 1.0, 0.75]}))
    groups = root.findall("svg:g[@class='series']", NS)
    a_path = groups[0].find("svg:path", NS)
    b_path = groups[1].find("svg:path", NS)
    assert a_path is not None and b_path is not None
    # a's gap starts a new sub-path: two moves, no line through the missing value
    assert a_path.get("d", "").count("M") == 2 and "L" not in a_path.get("d", "")
    assert a_path.get("stroke-dasharray") != b_path.get("stroke-dasharray")
    a_marks = {child.tag for child in groups[0]} - {"{http://www.w3.org/2000/svg}path"}
    b_marks = {child.tag for child in groups[1]} - {"{http://www.w3.org/2000/svg}path"}
    assert a_marks != b_marks  # circles for one, squares for the other


def test_empty_line_chart_says_so() -> None:
    assert "No data in this period" in line_chart("T", "D", ["Mon"], {"a": [None]})


def test_bars_carry_patterns_and_values() -> None:
    root = parse(bar_chart("Bars", "Two bars.", [("a", 3.0), ("b", -1.5)]))
    patterns = root.findall(".//svg:pattern", NS)
    assert len(patterns) == 2 and patterns[0].get("patternTransform") != \
        patterns[1].get("patternTransform")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "3" in texts and "-1.5" in texts


def test_two_charts_on_one_page_have_distinct_ids() -> None:
    one = bar_chart("One", "D", [("a", 1.0)])
    two = bar_chart("Two", "D", [("a", 1.0)])
    ids = re.findall(r'id="([^"]+)"', one + two)
    assert len(ids) == len(set(ids))


def test_interval_chart_draws_whiskers_and_a_reference() -> None:
    root = parse(interval_chart("Lift", "D", [("Lift", 0.2, -0.1, 0.5)], reference=0.0))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "0.2 [-0.1, 0.5]" in texts
    assert any(line.get("stroke-dasharray") for line in root.iter(
        "{http://www.w3.org/2000/svg}line"))


def test_series_must_match_labels() -> None:
    with pytest.raises(ValueError, match="expected 2 values, got 1"):
        line_chart("T", "D", ["1", "2"], {"a": [1.0]})


@pytest.mark.parametrize(("low", "high", "expected"), [
    pytest.param(0.0, 1.0, [0.0, 0.25, 0.5, 0.75, 1.0], id="shares"),
    pytest.param(-0.3, 0.8, [-0.5, 0.0, 0.5, 1.0], id="around-zero"),
    pytest.param(2.0, 2.0, [2.0, 2.25, 2.5, 2.75, 3.0], id="flat"),
    pytest.param(0.0, 7.0, [0.0, 2.0, 4.0, 6.0, 8.0], id="whole-numbers"),
])
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == expected
