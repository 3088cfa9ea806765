"""The figures the result pages draw from a published result's figure shape."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from perron.web.figures import FigureShapeError, draw

KM = {
    "type": "km",
    "duration": "days",
    "curves": [
        {
            "label": "sex=1",
            "time": [0, 5, 11],
            "survival": [1.0, 0.9, 0.7],
            "lower": [1.0, 0.8, 0.55],
            "upper": [1.0, 0.97, 0.82],
        },
        {"label": "sex=2", "time": [0, 7], "survival": [1.0, 0.95], "lower": None, "upper": None},
    ],
}
FOREST = {
    "type": "forest",
    "label": "Hazard ratio",
    "scale": "log",
    "reference": 1.0,
    "terms": [
        {"name": "age", "estimate": 1.01, "lower": 0.99, "upper": 1.03},
        {"name": "sex", "estimate": 0.58, "lower": 0.41, "upper": 0.80},
    ],
}


@pytest.mark.parametrize("shape", [KM, FOREST], ids=["km", "forest"])
def test_a_figure_is_an_svg_document_with_its_labels(shape: dict[str, object]) -> None:
    svg = draw(shape)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    label = "Survival probability" if shape["type"] == "km" else "Hazard ratio"
    assert label in text
    for name in ("sex=1", "sex=2") if shape["type"] == "km" else ("age", "sex"):
        assert name in text


def test_an_unknown_figure_type_is_refused_with_what_is_known() -> None:
    with pytest.raises(FigureShapeError, match="known: km, forest"):
        draw({"type": "pie"})


def test_an_incomplete_figure_says_what_is_missing() -> None:
    with pytest.raises(FigureShapeError, match="incomplete"):
        draw({"type": "forest", "terms": [{"name": "age"}]})


def test_a_detection_figure_draws_bars_lines_and_the_alarm_weeks() -> None:
    shape = {
        "type": "detection",
        "method": "farrington_flexible",
        "weeks": ["2024-W51", "2024-W52", "2025-W01", "2025-W02"],
        "observed": [3, None, 12, 4],
        "expected": [None, 2.6, 2.8, 3.0],
        "upperbound": [None, 6.3, 6.6, 6.9],
        "alarm": [False, False, True, False],
    }

    svg = draw(shape)

    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    for label in ("farrington_flexible", "2025-W01", "Cases per week", "upper bound", "alarm"):
        assert label in text
    with pytest.raises(FigureShapeError, match="differ in length"):
        draw(shape | {"alarm": [True]})
