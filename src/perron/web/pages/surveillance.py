"""A study's standing surveillance job: its case definition, schedule, runs and signal.

The hub stores a job's spec without reading it (its owner's runner does the counts
and the detection, and publishes each week's signal to the study's board), so this
page reads the spec defensively: what it recognises is written out in words, anything
else is shown as the JSON it is. The latest run's figure is the one its result page
draws (:mod:`perron.web.pages.studies`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from perron.web.hubapi import HubError
from perron.web.views import PageDep

router = APIRouter()

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class SpecView:
    """A job's spec as the page shows it: each part in words, or ``None`` if absent."""

    title: str | None = None
    case: list[str] = field(default_factory=list)
    date: str | None = None
    first: str | None = None
    by: list[str] = field(default_factory=list)
    levels: list[tuple[str, str]] = field(default_factory=list)
    bands: list[tuple[str, str]] = field(default_factory=list)
    delay: str | None = None
    epsilon: str | None = None
    method: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)


def _text(value: Any) -> str:
    """A JSON value as a short text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _values(values: Any) -> str:
    if isinstance(values, list):
        return ", ".join(_text(v) for v in values)
    return _text(values)


def criterion_text(criterion: Any) -> str:
    """One criterion of a case definition in words.

    Examples
    --------
    >>> criterion_text({"column": "icd10", "in": ["A02.0", "A02.1"]})
    'icd10 is one of A02.0, A02.1'
    >>> criterion_text({"column": "icd10", "prefix": ["J10"]})
    'icd10 starts with J10'
    >>> criterion_text({"column": "age", "between": [40, 60]})
    'age is between 40 and 60'
    """
    if isinstance(criterion, Mapping) and "column" in criterion and len(criterion) == 2:
        column = _text(criterion["column"])
        operator, values = next((k, v) for k, v in criterion.items() if k != "column")
        if operator == "in":
            return f"{column} is one of {_values(values)}"
        if operator == "prefix":
            return f"{column} starts with {_values(values)}"
        if operator == "between" and isinstance(values, list) and len(values) == 2:
            return f"{column} is between {_text(values[0])} and {_text(values[1])}"
    return _text(criterion)


def _items(value: Any) -> list[Any]:
    """A list as it is, anything else (but nothing) as a list of one."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _pairs(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [(_text(k), _values(v)) for k, v in value.items()]
    return [] if value is None else [("", _text(value))]


def spec_view(spec: Any) -> SpecView:
    """What the page shows of a job's spec (opaque to the hub: read with care).

    Examples
    --------
    >>> view = spec_view({"counts": {"case": [{"column": "icd10", "in": ["A02.0"]}],
    ...     "date": "onset", "first": "2020-W01", "by": ["region"]},
    ...     "detection": {"method": "farrington_flexible", "options": {"b": 3}}})
    >>> view.case, view.by, view.method, view.options
    (['icd10 is one of A02.0'], ['region'], 'farrington_flexible', [('b', '3')])
    """
    view = SpecView()
    if not isinstance(spec, Mapping):
        return view
    if spec.get("title") is not None:
        view.title = _text(spec["title"])
    counts = spec.get("counts")
    if isinstance(counts, Mapping):
        view.case = [criterion_text(c) for c in _items(counts.get("case"))]
        view.date = None if counts.get("date") is None else _text(counts["date"])
        view.first = None if counts.get("first") is None else _text(counts["first"])
        view.by = [_text(b) for b in _items(counts.get("by"))]
        view.levels = _pairs(counts.get("levels"))
        view.bands = _pairs(counts.get("bands"))
        if counts.get("report_date") is not None:
            delay = counts.get("max_delay")
            view.delay = f"by report date {_text(counts['report_date'])}" + (
                "" if delay is None else f", delays up to {_text(delay)} weeks"
            )
        if counts.get("epsilon") is not None:
            view.epsilon = _text(counts["epsilon"])
    detection = spec.get("detection")
    if isinstance(detection, Mapping):
        view.method = None if detection.get("method") is None else _text(detection["method"])
        view.options = _pairs(detection.get("options"))
    return view


def schedule_text(weekday: int, hour: int) -> str:
    """A job's schedule in words.

    Examples
    --------
    >>> schedule_text(1, 6)
    'every Monday at 06:00 UTC, assessing the week before'
    """
    return f"every {WEEKDAYS[weekday - 1]} at {hour:02d}:00 UTC, assessing the week before"


@router.get("/studies/{study}/surveillance/{job}")
async def job(page: PageDep, study: str, job: str) -> Response:
    page.require_user()
    shown: dict[str, Any] = await page.api.get(f"/api/studies/{study}/surveillance/{job}")
    latest = shown["latest_run"]
    figure = False
    if latest is not None:
        try:
            result = await page.api.get(f"/api/studies/{study}/results/{latest['result_id']}")
        except HubError as error:
            if error.status != 404:
                raise
        else:
            figure = bool(result["envelope"]["body"].get("figure"))
    return page.render(
        "surveillance.html",
        study=study,
        job=shown,
        spec=spec_view(shown["spec"]),
        spec_json=json.dumps(shown["spec"], indent=2, ensure_ascii=False, sort_keys=True),
        schedule=schedule_text(shown["weekday"], shown["hour"]),
        figure=figure,
    )
