"""Publishing a result to the study: the signed document the study's pages show.

The hub relays sealed partials it cannot read, so a result reaches the study's
pages only when the researcher's client, which opened and combined the partials,
publishes it (:meth:`perron.client.session.Session.publish`). The document is
signed with the researcher's key (:func:`perron.crypto.envelope.sign`); the hub
checks the signature against the key the researcher registered and keeps it as
signed. :func:`result_document` builds it from any result::

    {"result_id": 32 hex digits, "study": str, "title": str (1..200 characters),
     "kind": "summary" | "crosstab" | "count" | "glm" | "coxph" | "kaplan_meier"
             | "logrank" | "other",
     "task_ids": [str, ...] (at most 1000), "created_at": ISO-8601 UTC,
     "tables": [{"name": str, "columns": [str, ...], "rows": [[str|number|bool|null]]}],
     "figure": None
               | {"type": "km", "duration": str,
                  "curves": [{"label", "time", "survival", "lower", "upper"}]}
               | {"type": "forest", "label": "Hazard ratio" | "Odds ratio"
                                            | "Rate ratio" | "Coefficient",
                  "scale": "log" | "linear", "reference": 1.0 | 0.0,
                  "terms": [{"name", "estimate", "lower", "upper"}]},
     "errors": [{"station": str ("" if none is named), "kind": str, "message": str}]}

Numbers are JSON-safe: a missing, suppressed or infinite value is ``null``.
Forest plots carry the estimates on the scale they are read on: hazard, odds and
rate ratios exponentiated (log scale, reference 1), linear coefficients as they are
(reference 0); the intercept is left out. Every federated result also gets the
rows each station used and the disclosure decisions the stations took (counted
per station, rule and outcome).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from perron.algorithms.core.base import FederatedResult
from perron.algorithms.feasibility.counts import FeasibilityResult
from perron.algorithms.feasibility.overlap import OverlapReport
from perron.algorithms.linkage.linked_crosstab import LinkedCrosstabResult
from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.statistics.crosstab import CrosstabResult
from perron.algorithms.statistics.dp_release import DPResult
from perron.algorithms.statistics.histogram import HistogramResult
from perron.algorithms.statistics.quantile import QuantileResult
from perron.algorithms.statistics.summary import SummaryResult
from perron.algorithms.surveillance.signal import Signal
from perron.algorithms.surveillance.weekly_result import WeeklyCountsResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.algorithms.survival.logrank import LogrankResult
from perron.client.station_errors import entries_of
from perron.protocol.errors import InputError
from perron.protocol.grid import Grid

__all__ = ["KINDS", "MAX_TASK_IDS", "MAX_TITLE", "publish", "result_document"]

KINDS = (
    "summary",
    "crosstab",
    "count",
    "glm",
    "coxph",
    "kaplan_meier",
    "logrank",
    "surveillance",
    "other",
)
MAX_TITLE = 200
MAX_TASK_IDS = 1000
#: Terms a forest plot leaves out: the intercept (its scale is not a ratio).
_INTERCEPTS = frozenset({"Intercept", "(Intercept)", "const"})
#: GLM family -> (figure label, scale, reference); the canonical links.
_GLM_SCALES = {
    "binomial": ("Odds ratio", "log", 1.0),
    "poisson": ("Rate ratio", "log", 1.0),
    "gaussian": ("Coefficient", "linear", 0.0),
}

Cell = str | int | float | bool | None
Table = dict[str, Any]
Figure = dict[str, Any]
Content = tuple[str, list[Table], Figure | None]
Errors = Iterable[BaseException | Mapping[str, Any]]


def result_document(
    result: object,
    *,
    title: str,
    study: str,
    task_ids: Sequence[str] = (),
    errors: Errors = (),
    result_id: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The document that publishes ``result`` to ``study`` (before it is signed).

    Parameters
    ----------
    result
        A result of a Session method (GLM, Cox, Kaplan-Meier, log-rank, summary,
        crosstab, feasibility counts, ...; other results become tables field by
        field), a DataFrame, or an exception: a run that failed, published as its
        errors.
    title
        What the study's pages call it (1 to 200 characters).
    study
        The study it is published to.
    task_ids
        The tasks that computed it (the last 1000 are kept).
    errors
        Errors to publish with it: exceptions (their stations read from them, see
        :func:`perron.client.station_errors.error_entries`) or entries
        ``{station, kind, message}``.
    result_id, created_at
        Fixed for a reproducible document; by default a fresh id and now.

    Raises
    ------
    InputError
        The title is empty or too long, or ``result`` cannot be shown as tables.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frames = {s: pd.DataFrame({"x": range(i, i + 40)}) for i, s in enumerate("abc")}
    >>> summary = perron.simulate(frames).summary("x", quantiles=None)
    >>> document = result_document(summary, title="Age", study="demo")
    >>> document["kind"], document["tables"][0]["columns"][:3]
    ('summary', ['column', 'station', 'count'])
    """
    name = title.strip() if isinstance(title, str) else ""
    if not 1 <= len(name) <= MAX_TITLE:
        raise InputError(f"a published result needs a title of 1 to {MAX_TITLE} characters.")
    published_errors = entries_of(errors)
    tables: list[Table]
    figure: Figure | None
    if isinstance(result, BaseException):
        kind, tables, figure = "other", [], None
        published_errors = entries_of([result]) + published_errors
    else:
        kind, tables, figure = _content(result)
        if isinstance(result, FederatedResult):
            tables += _provenance(result)
    moment = created_at or datetime.now(UTC)
    document = {
        "result_id": result_id or uuid.uuid4().hex,
        "study": study,
        "title": name,
        "kind": kind,
        "task_ids": [str(t) for t in task_ids][-MAX_TASK_IDS:],
        "created_at": moment.isoformat(),
        "tables": tables,
        "figure": figure,
        "errors": published_errors,
    }
    json.dumps(document, allow_nan=False)  # JSON-safe by construction; fail loudly if not
    return document


def publish(grid: Grid, result: object, *, title: str, errors: Errors = ()) -> str:
    """Sign the document of ``result`` with the session's key, post it; its result id.

    The document names the tasks the session sent since its previous publication.

    Raises
    ------
    InputError
        The session does not run on a hub (a ``simulate`` session has no study page).
    """
    from perron.client.http_grid import HttpGrid  # noqa: PLC0415 - httpx only when publishing

    if not isinstance(grid, HttpGrid):
        raise InputError(
            "only a session on a hub can publish (perron.connect); a simulated study has "
            "no study page."
        )
    document = result_document(
        result, title=title, study=grid.study, task_ids=grid.tasks.unpublished(), errors=errors
    )
    return grid.publish(document)


# -- what each kind of result shows ----------------------------------------------------


def _content(result: object) -> Content:
    for cls, convert in _CONVERTERS:
        if isinstance(result, cls):
            return convert(result)
    return "other", _fallback_tables(result), None


def _glm(result: GLMResult) -> Content:
    label, scale, reference = _GLM_SCALES.get(result.family, ("Coefficient", "linear", 0.0))
    summary = result.summary()
    if scale == "log":
        ci = result.conf_int()
        ratio = label.lower()
        summary[ratio] = np.exp(result.params)
        summary[f"{ratio} lower 95%"] = np.exp(ci[0])
        summary[f"{ratio} upper 95%"] = np.exp(ci[1])
    fit = {
        "family": result.family,
        "rows": result.nobs,
        "df model": result.df_model,
        "df residual": result.df_resid,
        "deviance": result.deviance,
        "Pearson chi2": result.pearson_chi2,
        "log-likelihood": result.llf,
        "AIC": result.aic,
        "scale": result.scale,
        "iterations": result.iterations,
        "converged": result.converged,
    }
    tables = [
        frame_table("Coefficients", summary, index_name="term"),
        values_table("Fit", fit),
    ]
    return "glm", tables, _forest(result.params, result.conf_int(), label, scale, reference)


def _cox(result: CoxResult) -> Content:
    lr, wald, score = result.likelihood_ratio_test, result.wald_test, result.score_test
    fit = {
        "rows": result.nobs,
        "events": result.n_events,
        "ties": result.ties,
        "strata": result.strata,
        "partial log-likelihood": result.llf,
        "null log-likelihood": result.llf_null,
        "partial AIC": result.aic,
        "concordance (within stations)": result.concordance,
        "likelihood ratio test": lr.statistic,
        "likelihood ratio p": lr.p_value,
        "Wald test": wald.statistic,
        "Wald p": wald.p_value,
        "score test": score.statistic,
        "score p": score.p_value,
        "df": lr.df,
        "iterations": result.iterations,
    }
    tables = [
        frame_table("Coefficients", result.summary(), index_name="term"),
        values_table("Fit", fit),
    ]
    figure = _forest(result.params, result.conf_int(), "Hazard ratio", "log", 1.0)
    return "coxph", tables, figure


def _forest(
    params: pd.Series, ci: pd.DataFrame, label: str, scale: str, reference: float
) -> Figure:
    transform: Callable[[float], float] = math.exp if scale == "log" else float
    terms = []
    for term in params.index:
        if str(term) in _INTERCEPTS:
            continue
        values = (params[term], ci.loc[term, 0], ci.loc[term, 1])
        estimate, lower, upper = (number(_apply(transform, v)) for v in values)
        if estimate is None:  # not estimable: the tables show it, the plot cannot
            continue
        terms.append({"name": str(term), "estimate": estimate, "lower": lower, "upper": upper})
    return {
        "type": "forest",
        "label": label,
        "scale": scale,
        "reference": reference,
        "terms": terms,
    }


def _apply(transform: Callable[[float], float], value: Any) -> float | None:
    value = number(value)
    if value is None:
        return None
    try:
        return transform(value)
    except OverflowError:
        return None


def _kaplan_meier(result: KaplanMeierResult) -> Content:
    curves = []
    frames = []
    for key, table in result.tables.items():
        label = _group_label(result.by, key)
        points = [
            (number(t), number(s), number(lo), number(hi))
            for t, s, lo, hi in zip(
                table.index, table["survival"], table["lower"], table["upper"], strict=True
            )
        ]
        # A curve is drawn where time and survival are known; it starts at 1 at time 0.
        drawn = [p for p in points if p[0] is not None and p[1] is not None]
        if not drawn or (drawn[0][0] or 0.0) > 0:
            drawn.insert(0, (0.0, 1.0, 1.0, 1.0))
        times, survival, lower, upper = (list(column) for column in zip(*drawn, strict=True))
        curves.append(
            {"label": label, "time": times, "survival": survival, "lower": lower, "upper": upper}
        )
        frame = table.reset_index().rename(columns={table.index.name or "index": "time"})
        frame.insert(0, "group", label)
        frames.append(frame)
    tables = [frame_table("Survival curves", pd.concat(frames), index=False)]
    median = result.median.rename(index=lambda key: _group_label(result.by, str(key)))
    tables.append(frame_table("Median survival", median, index_name="group"))
    if result.times:
        at = result.survival_at().reset_index()
        at["group"] = [_group_label(result.by, str(key)) for key in at["group"]]
        tables.append(frame_table("Survival at the requested times", at, index=False))
    figure = {"type": "km", "duration": result.duration, "curves": curves}
    return "kaplan_meier", tables, figure


def _group_label(by: Sequence[str], key: str) -> str:
    """``sex=1`` for the group ``1`` of ``by=["sex"]``; ``all`` without groups."""
    if not by:
        return key
    levels = key.split("|")
    if len(levels) != len(by):
        return key
    return ", ".join(f"{column}={level}" for column, level in zip(by, levels, strict=True))


def _logrank(result: LogrankResult) -> Content:
    test = {
        "test": result.weights,
        "group": result.group,
        "strata": result.strata,
        "chi2": result.statistic,
        "df": result.df,
        "p": result.p_value,
    }
    if result.weights == "fleming-harrington":
        test.update({"p (weight)": result.p, "q (weight)": result.q})
    tables = [
        values_table("Test", test),
        frame_table("Observed and expected events", result.summary(), index_name=result.group),
    ]
    return "logrank", tables, None


def _summary(result: SummaryResult) -> Content:
    return "summary", [frame_table("Summary", result.table)], None


def _crosstab(result: CrosstabResult) -> Content:
    tables = [frame_table("Combined", result.table)]
    tables += [frame_table(f"Station {name}", t) for name, t in result.per_station.items()]
    return "crosstab", tables, None


def _linked_crosstab(result: LinkedCrosstabResult) -> Content:
    name = (
        f"{result.row.station}.{result.row.column} x {result.col.station}.{result.col.column}"
        " on linked records"
    )
    return "crosstab", [frame_table(name, result.table)], None


def _feasibility(result: FeasibilityResult) -> Content:
    tables = [
        frame_table("Counts", result.table),
        values_table("Total", {"total": result.total_text, "low": result.low, "high": result.high}),
    ]
    if result.linked is not None:
        tables += _overlap(result.linked)[1]
    return "count", tables, None


def _overlap(result: OverlapReport) -> Content:
    tables = [frame_table("Linked records", result.table)]
    if not result.missing.empty:
        tables.append(frame_table("Missing values on the linked records", result.missing))
    return "count", tables, None


def _histogram(result: HistogramResult) -> Content:
    tables = [
        frame_table(f"Histogram of {result.column}", result.to_frame(), index=False),
        values_table("Outside the bins", {"below": result.below, "above": result.above}),
    ]
    return "other", tables, None


def _quantile(result: QuantileResult) -> Content:
    frame = pd.DataFrame(
        {"value": result.values, "resolution": result.resolution, "exact": result.exact}
    )
    return "other", [frame_table(f"Quantiles of {result.column}", frame, "probability")], None


def _dp(result: DPResult) -> Content:
    name = f"Differentially private {result.statistic} of {result.column}"
    table = frame_table(name, result.to_frame(), "station", index=result.edges is None)
    return "other", [table], None


def _signal(result: Signal) -> Content:
    detection = result.detection
    state = {
        "week assessed": str(result.week),
        "alarm": result.alarm,
        "method": detection.method,
        "alarm weeks": ", ".join(str(w) for w in detection.alarm_weeks) or "none",
    }
    tables = [values_table("Signal", state)]
    tables.append(frame_table(f"Recent weeks ({detection.method})", detection.to_frame(), "week"))
    tables.append(frame_table("Weekly counts per stratum", result.counts.table(), "week"))
    tables.append(frame_table("Suppressed cells", result.counts.suppressed, index=False))
    figure: Figure = {
        "type": "detection",
        "method": detection.method,
        "weeks": [str(w) for w in detection.weeks],
        "observed": [number(v) for v in detection.observed],
        "expected": [number(v) for v in detection.expected],
        "upperbound": [number(v) for v in detection.upperbound],
        "alarm": [bool(a) for a in detection.alarm],
    }
    return "surveillance", tables, figure


def _weekly_counts(result: WeeklyCountsResult) -> Content:
    tables = [frame_table("Weekly counts per stratum", result.table(), "week")]
    tables.append(frame_table("Suppressed cells", result.suppressed, index=False))
    return "other", tables, None


_CONVERTERS: tuple[tuple[type[Any], Callable[[Any], Content]], ...] = (
    (Signal, _signal),
    (WeeklyCountsResult, _weekly_counts),
    (GLMResult, _glm),
    (CoxResult, _cox),
    (KaplanMeierResult, _kaplan_meier),
    (LogrankResult, _logrank),
    (SummaryResult, _summary),
    (CrosstabResult, _crosstab),
    (LinkedCrosstabResult, _linked_crosstab),
    (FeasibilityResult, _feasibility),
    (OverlapReport, _overlap),
    (HistogramResult, _histogram),
    (QuantileResult, _quantile),
    (DPResult, _dp),
)


def _fallback_tables(result: object) -> list[Table]:
    """Any other result: its DataFrames, Series and plain values, field by field."""
    if isinstance(result, pd.DataFrame):
        return [frame_table("Result", result)]
    if isinstance(result, pd.Series):
        return [frame_table("Result", result.to_frame())]
    if not is_dataclass(result) or isinstance(result, type):
        raise InputError(
            f"a {type(result).__name__} cannot be published; publish a result of a "
            "Session method, a DataFrame or an error."
        )
    tables: list[Table] = []
    plain: dict[str, Any] = {}
    for field in fields(result):
        if field.name in ("decisions", "nobs_per_station"):
            continue
        value = getattr(result, field.name)
        if isinstance(value, pd.DataFrame):
            tables.append(frame_table(field.name, value))
        elif isinstance(value, pd.Series):
            tables.append(frame_table(field.name, value.to_frame()))
        elif isinstance(value, Mapping) and value and all(_plain(v) for v in value.values()):
            tables.append(values_table(field.name, {str(k): v for k, v in value.items()}))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(item, pd.DataFrame):
                    tables.append(frame_table(f"{field.name}: {key}", item))
        elif _plain(value):
            plain[field.name] = value
    if plain:
        tables.insert(0, values_table("Values", plain))
    return tables


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic)


def _provenance(result: FederatedResult) -> list[Table]:
    """The rows each station used (and dropped) and the disclosure decisions taken."""
    tables: list[Table] = []
    if result.nobs_per_station:
        dropped = getattr(result, "dropped_per_station", None)
        columns = ["station", "rows used"] + (["rows dropped"] if dropped else [])
        rows = [
            [station, cell(n)] + ([cell(dropped.get(station))] if dropped else [])
            for station, n in result.nobs_per_station.items()
        ]
        tables.append({"name": "Rows per station", "columns": columns, "rows": rows})
    counted: dict[tuple[str, str, str], int] = {}
    for decision in result.decisions:
        key = (decision.station, decision.rule, decision.outcome)
        counted[key] = counted.get(key, 0) + 1
    if counted:
        tables.append(
            {
                "name": "Disclosure decisions",
                "columns": ["station", "rule", "outcome", "outputs"],
                "rows": [[*key, n] for key, n in counted.items()],
            }
        )
    return tables


# -- JSON-safe tables --------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A finite float, or None (missing, suppressed, infinite or not a number).

    Examples
    --------
    >>> number(1), number(float("nan")), number(float("inf")), number(None)
    (1.0, None, None, None)
    """
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def cell(value: Any) -> Cell:
    """A table cell as JSON: numbers finite or None, times as ISO text, others as text.

    Examples
    --------
    >>> import numpy as np
    >>> cell(np.int64(3)), cell(np.float64("nan")), cell(np.bool_(True)), cell("a")
    (3, None, True, 'a')
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return number(value)
    if isinstance(value, datetime | date | pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def values_table(name: str, values: Mapping[str, Any]) -> Table:
    """A two-column table of named values (``None`` values are kept, as null)."""
    return {
        "name": name,
        "columns": ["statistic", "value"],
        "rows": [[key, cell(value)] for key, value in values.items()],
    }


def frame_table(
    name: str, frame: pd.DataFrame, index_name: str = "", *, index: bool = True
) -> Table:
    """A DataFrame as a table; its index (levels) first unless ``index`` is false.

    Unnamed index levels are called ``index_name`` (or ``index``); column labels
    become text (a column MultiIndex joined by spaces).
    """
    data = frame
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        index = False  # row numbers only
    if index:
        names = [
            str(level) if level is not None else (index_name or "index")
            for level in frame.index.names
        ]
        if len(names) == 1 and frame.columns.name is not None and not index_name:
            names = [f"{names[0]} \\ {frame.columns.name}"]
        data = frame.copy()
        data.index = data.index.set_names(_unique(names, [_label(c) for c in frame.columns]))
        data = data.reset_index()
    columns = [_label(c) for c in data.columns]
    rows = [[cell(v) for v in row] for row in data.itertuples(index=False, name=None)]
    return {"name": name, "columns": columns, "rows": rows}


def _label(column: Any) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if str(part))
    return str(column)


def _unique(names: list[str], taken: list[str]) -> list[str]:
    """Index names that do not clash with the columns (a clash gets a prime)."""
    out = []
    for name in names:
        unique = name
        while unique in taken or unique in out:
            unique += "'"
        out.append(unique)
    return out
