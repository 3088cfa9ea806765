"""The improved Farrington method: a quasi-Poisson baseline from the same weeks of past years.

Farrington, Andrews, Beale & Catchpole (1996, *J R Stat Soc A* 159:547) predict a
week's count from the weeks around the same date in the ``b`` previous years, with a
quasi-Poisson GLM that downweights past outbreaks, and alarm when the count exceeds the
upper end of a prediction interval. Noufaily, Enki, Farrington, Garthwaite, Andrews &
Charlett (2013, *Stat Med* 32:1206; online 2012) improved it: a seasonal factor of
``no_periods`` periods uses the whole of each past year, the most recent weeks
(``past_weeks_not_included``, 26 in their paper) are left out, residuals above 2.58
(not 1) are downweighted, and the threshold is a negative binomial quantile.

For each assessed week ``t`` (``y_t`` its count):

1. **Reference weeks**: for ``k = 1..b``, the Monday nearest the same calendar date
   ``k`` years before ``t``'s Monday. The baseline holds the windows ``ref_k - w ..
   ref_k + w`` and the weeks ``t - w .. t`` (block ``no_periods``); with
   ``no_periods > 1`` the weeks between one window and the next are split, year by
   year, into ``no_periods - 1`` blocks of near-equal length, the seasonal factor.
   Weeks ``t - past_weeks_not_included .. t`` are then left out, and so are unknown
   counts.
2. **Fit**: ``log mu_i = alpha + beta * wtime_i + gamma_block(i)``, quasi-Poisson;
   ``phi = max(X2 / df, 1)`` (Pearson).
3. **Reweighting**: Anscombe residuals ``s_i = 3/2 (y_i^(2/3) mu_i^(-1/6) - mu_i^(1/2))
   / sqrt(phi (1 - h_ii))``; weight ``gamma s_i^-2`` where ``s_i > weights_threshold``,
   else ``gamma``, with ``gamma`` making the weights sum to ``n``; refit with them.
4. **Trend**: kept only when ``b >= 3``, its t-test p-value is below
   ``p_threshold_trend`` and the predicted count does not exceed the largest baseline
   count; otherwise the model is refitted (and reweighted) without it.
5. **Threshold** at ``t``, from the prediction ``mu0`` (standard error ``se``):
   ``"delta"``: ``U = (mu0^e + z_{1-alpha} sd(mu0^e))^(1/e)`` with the power ``e`` of
   ``power_trans`` (2/3 makes the Poisson nearly symmetric) and, by the delta method,
   ``var(y^e - mu0^e) = e^2 mu0^(2e-2) (phi mu0 + se^2)``; ``"nbPlugin"``: the ``1 - alpha``
   quantile of a negative binomial of mean ``mu0`` and variance ``phi mu0`` (Poisson if
   ``phi = 1``); ``"muan"``: the same at ``mu0 = exp(eta0 + z_{1-alpha} se(eta0))``.
6. **Alarm** when the exceedance score ``(y_t - mu0) / (U - mu0)`` exceeds 1, ``y_t > 0``
   and there were at least ``limit54[0]`` cases in the last ``limit54[1]`` weeks.

This module mirrors ``surveillance::farringtonFlexible`` of the R package surveillance
1.20.3 (Salmon, Schumacher & Höhle 2016, *J Stat Softw* 70(10)) for weekly data with
dates (``epochAsDate = TRUE``), including its choices:

- **Defaults** are R's, among them ``b = 5``.
- **Reference weeks by date** (R's ``algo.farrington.referencetimepoints``): the same
  date ``k`` years back (29 February becomes 1 March, as R's ``seq.Date``), moved to the
  nearest Monday; so in 53-week years the reference is found by date, not by week
  number. A reference week before the series starts is an :class:`InputError` (R: "Some
  reference time points did not exist"). A window that starts before the series is cut
  at its first week (R drops index 0 silently; it fails if the cut is longer).
- **Blocks** (R's ``blocks``): the first ``period %% (no_periods - 1)`` blocks of each
  year get the extra week. Where a gap between windows is shorter than ``no_periods -
  1`` weeks this module raises :class:`InputError` (R's check is looser and then
  assigns overlapping blocks).
- **``assess=None``** is R's default ``range``, ``(52 b + w + 1):n`` in R's 1-based
  positions, moved later if needed until the ``b`` reference weeks exist.
- **IRLS as R's ``glm.fit``**: started at ``mu = y + 0.1``, stopped when ``|dev -
  dev_old| / (|dev| + 0.1) < 1e-8``, at most 25 iterations. The dispersion, the
  covariance and the hat values are R's: from the working weights of the last
  iteration, so that results agree with R to about 1e-12 rather than to R's stopping
  error. A week whose first fit does not converge, with and without trend, is not
  assessed (R warns and gives ``NA``; its ``control$expected`` says 0, here ``NaN``).
- **The dispersion of the trend's t-test and of the prediction's standard error** is
  not ``phi``, as in R: its ``predict.glm`` call passes ``dispersion = model$phi``
  inside ``newdata``, where it is ignored, so both take ``summary.glm``'s estimate; and
  after reweighting, ``algo.farrington.fitGLM.flexible`` has replaced the model's
  working weights by the Anscombe weights ``omega``, so that estimate becomes
  ``sum(omega_i r_i^2) / df`` with the working residuals ``r_i = (y_i - mu_i) / mu_i``,
  not Pearson's ``sum(omega_i mu_i r_i^2) / df``: smaller by a factor of about the mean
  count.
  This module reproduces it, so that its results are R's; with counts well above 1 it
  makes the trend test too liberal and the delta method's prediction error too small.
  Without reweighting the estimate is Pearson's. ``phi = max(X2 / df, 1)`` (Pearson)
  enters the thresholds.
- **The score of "nbPlugin" and "muan"** is R's ``(y - eta0) / (U - eta0)``, with the
  linear predictor ``eta0 = log mu0`` where the delta method has ``mu0``.
- **limit54**: a week with too few recent cases (or an unknown count among them) gets
  ``NaN`` expected and upperbound and no alarm, as in R; its score is still R's
  ``control$score``.
- **Unknown counts** (``NaN``) in the baseline are left out of the fit. R then measures
  the trend of the prediction from the first *known* baseline week but that of the fit
  from the first baseline week, which differ when the first is unknown; this module
  uses the first baseline week for both (a deviation, only with a trend and a leading
  unknown count). A seasonal block whose counts are all unknown is dropped, as R's
  ``glm`` drops an unused factor level; where that block is the assessed week's own
  (R fails), the week is not assessed. A week whose own count is unknown gets ``NaN``
  observed, expected, upperbound and score and no alarm.
- **Not offered**: R's ``populationOffset`` (a :class:`WeeklySeries` has no population)
  and data that are not weekly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.genmod.families import Poisson
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from perron.protocol.errors import InputError
from perron.surveillance.series import Detection, FloatArray, WeeklySeries
from perron.surveillance.weeks import IsoWeek

__all__ = [
    "Threshold",
    "anscombe_weights",
    "farrington_flexible",
    "farrington_threshold",
    "noufaily_threshold",
    "reference_days",
]

_POWERS = {"none": 1.0, "1/2": 1 / 2, "2/3": 2 / 3}
_METHODS = ("delta", "nbPlugin", "muan")
# R's glm.control(): epsilon and maxit.
_EPSILON = 1e-8
_MAXIT = 25
_LOG_MAX = math.log(np.finfo(np.float64).max)


class Threshold(NamedTuple):
    """Prediction interval, tail probability and exceedance score of one week.

    R's ``list(lower, upper, prob, score)``: ``prob`` is the probability of a count at
    least as large as ``y`` under the baseline, ``score`` the exceedance score.
    """

    lower: float
    upper: float
    prob: float
    score: float


def farrington_threshold(
    pred: float,
    pred_se: float,
    phi: float,
    power_trans: str = "2/3",
    alpha: float = 0.05,
    y: float = math.nan,
) -> Threshold:
    """Farrington's threshold by the delta method on a power of the count.

    R's ``algo.farrington.threshold.farrington``. With ``tau = phi + pred_se^2 / pred``
    the variance of ``y - pred`` is ``pred tau`` (the count's, ``phi pred``, and the
    prediction's), and that of its power ``e`` (1, 1/2 or 2/3 for ``power_trans``
    ``"none"``, ``"1/2"``, ``"2/3"``) about ``e^2 pred^(2e-1) tau``; the interval is
    ``(pred^e -+ z_{1-alpha} sd)^(1/e)``, sorted, its lower end floored at 0 (and 0
    where it has no real power, as R's ``max(0, NaN, na.rm = TRUE)``). ``prob`` is the
    normal tail above ``y^e``.

    Parameters
    ----------
    pred, pred_se
        Predicted count and its standard error (response scale).
    phi
        Dispersion.
    power_trans
        ``"2/3"``, ``"1/2"`` or ``"none"``.
    alpha
        One-sided level: ``upper`` is the ``1 - alpha`` bound.
    y
        Observed count (``NaN`` if unknown).

    Examples
    --------
    >>> t = farrington_threshold(5.0, 0.2, 1.0, "2/3", 0.05, 8.0)
    >>> [round(v, 7) for v in t]
    [1.8084477, 9.1154825, 0.1094727, 0.7289546]
    """
    try:
        exponent = _POWERS[power_trans]
    except KeyError:
        raise InputError(
            f"power_trans {power_trans!r} is not a proper exponent; use '2/3', '1/2' or 'none'."
        ) from None
    if not pred > 0:
        raise InputError(f"pred must be a positive expected count, not {pred}.")
    tau = phi + pred_se**2 / pred
    if power_trans == "none":
        se = math.sqrt(pred * tau)
    elif power_trans == "1/2":
        se = math.sqrt(1 / 4 * tau)
    else:
        se = math.sqrt(4 / 9 * pred ** (1 / 3) * tau)
    z = float(stats.norm.ppf(1 - alpha))
    ends = pred**exponent + np.array([-1.0, 1.0]) * z * se
    # A negative lower end has no real 3/2 power: NaN, which R sorts first and drops.
    with np.errstate(invalid="ignore"):
        powered = np.power(ends, 1 / exponent)
    known = sorted(float(v) for v in powered if not math.isnan(v))
    bounds = [math.nan] * (2 - len(known)) + known
    lower = 0.0 if math.isnan(bounds[0]) else max(0.0, bounds[0])
    upper = bounds[1]
    prob = float(stats.norm.sf(y**exponent, loc=pred**exponent, scale=se))
    score = math.nan if math.isnan(upper) else (y - pred) / (upper - pred)
    return Threshold(lower, upper, prob, score)


def noufaily_threshold(
    eta: float,
    eta_se: float,
    phi: float,
    alpha: float = 0.05,
    y: float = math.nan,
    method: str = "nbPlugin",
) -> Threshold:
    """Noufaily's threshold: a quantile of the negative binomial of mean ``mu0``.

    R's ``algo.farrington.threshold.noufaily``. ``mu0 = exp(eta)`` (``"nbPlugin"``) or
    ``exp(eta + z_{1-alpha} eta_se)`` (``"muan"``, the upper end of the mean's own
    interval); the count is negative binomial with mean ``mu0`` and variance ``phi
    mu0`` (size ``mu0 / (phi - 1)``, probability ``1 / phi``), Poisson when ``phi <=
    1``. The score is R's ``(y - eta) / (upper - eta)``, on the linear predictor.

    Parameters
    ----------
    eta, eta_se
        Linear predictor (log of the expected count) and its standard error.
    phi
        Dispersion.
    alpha
        ``upper`` is the ``1 - alpha`` quantile, ``lower`` the ``alpha`` quantile.
    y
        Observed count (``NaN`` if unknown).
    method
        ``"nbPlugin"`` or ``"muan"``.

    Examples
    --------
    >>> t = noufaily_threshold(math.log(5), math.log(2), 1.5, 0.05, 11.0, "muan")
    >>> t.lower, t.upper, round(t.prob, 7), round(t.score, 7)
    (8.0, 24.0, 0.8597797, 0.4193982)
    """
    if method not in ("nbPlugin", "muan"):
        raise InputError(
            f"method {method!r} is not a Noufaily threshold; use 'nbPlugin' or 'muan'."
        )
    if method == "nbPlugin":
        mu0 = _exp(eta)
    else:
        mu0 = _exp(float(stats.norm.ppf(1 - alpha, loc=eta, scale=eta_se)))
    if math.isinf(mu0):
        lower = upper = prob = math.nan
    else:
        if phi > 1:
            size, p = mu0 / (phi - 1), 1 / phi
            lower = float(stats.nbinom.ppf(alpha, size, p))
            upper = float(stats.nbinom.ppf(1 - alpha, size, p))
        else:
            lower = float(stats.poisson.ppf(alpha, mu0))
            upper = float(stats.poisson.ppf(1 - alpha, mu0))
        lower = max(0.0, lower)
        # P(Y >= y) = P(Y > y - 1).
        if phi != 1:
            prob = float(stats.nbinom.sf(y - 1, mu0 / (phi - 1), 1 / phi))
        else:
            prob = float(stats.poisson.sf(y - 1, mu0))
    score = math.nan if math.isnan(upper) else (y - eta) / (upper - eta)
    return Threshold(lower, upper, prob, score)


def anscombe_weights(residuals: npt.ArrayLike, weights_threshold: float = 1.0) -> FloatArray:
    """Farrington's weights: ``gamma s^-2`` above the threshold, ``gamma`` below it.

    R's ``algo.farrington.assign.weights``; ``gamma`` makes the weights sum to the
    number of residuals, so the reweighted fit keeps the data's size.

    Examples
    --------
    >>> anscombe_weights([0, 0, 2, 2], 0.0).tolist()
    [1.6, 1.6, 0.4, 0.4]
    """
    s = np.asarray(residuals, dtype=np.float64)
    above = s > weights_threshold
    # Only residuals above the threshold are inverted; a zero residual is never.
    inverse_square = np.ones_like(s)
    inverse_square[above] = s[above] ** -2.0
    gamma = s.size / inverse_square.sum()
    return np.asarray(gamma * inverse_square, dtype=np.float64)


def reference_days(day: date, b: int) -> list[date]:
    """``day`` and, for ``k = 1..b``, the same weekday nearest ``day`` ``k`` years back.

    R's ``algo.farrington.referencetimepoints`` for weekly data: the same calendar date
    ``k`` years earlier (29 February becomes 1 March, as R's ``seq.Date``), then the
    day of ``day``'s weekday in its Sunday-to-Saturday week or the week before or after,
    whichever is nearer.

    Examples
    --------
    >>> [d.isoformat() for d in reference_days(date(2013, 6, 6), 3)]
    ['2013-06-06', '2012-06-07', '2011-06-09', '2010-06-03']
    """
    wanted = _r_weekday(day)
    days = [day]
    for k in range(1, b + 1):
        target = _years_before(day, k)
        same_week = target - timedelta(days=_r_weekday(target) - wanted)
        other = same_week + timedelta(days=-7 if same_week > target else 7)
        nearer = abs((same_week - target).days) <= abs((other - target).days)
        days.append(same_week if nearer else other)
    return days


def farrington_flexible(
    series: WeeklySeries,
    *,
    assess: Sequence[IsoWeek] | None = None,
    b: int = 5,
    w: int = 3,
    reweight: bool = True,
    weights_threshold: float = 2.58,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    no_periods: int = 1,
    past_weeks_not_included: int | None = None,
    alpha: float = 0.05,
    limit54: tuple[int, int] = (5, 4),
    power_trans: str = "2/3",
    threshold_method: str = "delta",
) -> Detection:
    """Run the improved Farrington method on the weeks ``assess`` of ``series``.

    Mirrors R's ``farringtonFlexible(sts, control)`` (surveillance 1.20.3); the module
    docstring states the method and where this port follows or leaves R.

    Parameters
    ----------
    series
        Weekly counts; ``NaN`` counts are left out of the baselines.
    assess
        Weeks to assess; ``None``: R's default range, from week ``52 b + w + 1`` of the
        series (later if the reference weeks ``b`` years back are not yet in it).
    b, w
        Years back, and weeks either side of each reference week (R's ``b``, ``w``).
    reweight, weights_threshold
        Downweight baseline weeks whose Anscombe residual exceeds the threshold (R's
        ``reweight``, ``weightsThreshold``; Farrington 1996 used 1, Noufaily 2.58).
    trend, p_threshold_trend
        Fit a linear trend, kept if significant at this level (R's ``trend``,
        ``pThresholdTrend``).
    no_periods
        Levels of the seasonal factor; 1 means none (R's ``noPeriods``).
    past_weeks_not_included
        Recent weeks left out of the baseline; ``None`` means ``w`` (R's
        ``pastWeeksNotIncluded``).
    alpha
        One-sided level of the threshold.
    limit54
        ``(cases, weeks)``: no alarm unless at least ``cases`` cases in the last
        ``weeks`` weeks (R's ``limit54``).
    power_trans
        ``"2/3"``, ``"1/2"`` or ``"none"``, for ``threshold_method="delta"`` (R's
        ``powertrans``).
    threshold_method
        ``"delta"`` (Farrington), ``"nbPlugin"`` or ``"muan"`` (Noufaily).

    Returns
    -------
    Detection
        ``expected`` and ``upperbound`` are R's ``control$expected`` and
        ``upperbound``, ``score`` R's ``control$score``, ``alarm`` R's ``alarm``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> counts = rng.poisson(10, 6 * 52).astype(float)
    >>> counts[-1] = 40
    >>> found = farrington_flexible(WeeklySeries(IsoWeek(2015, 1), counts), alpha=0.01)
    >>> str(found.weeks[0]), str(found.weeks[-1]), bool(found.alarm[-1])
    ('2020-W03', '2020-W51', True)
    >>> round(float(found.expected[-1]), 1), round(float(found.upperbound[-1]), 1)
    (10.5, 19.0)
    """
    settings = _Settings(
        b=b,
        w=w,
        reweight=reweight,
        weights_threshold=weights_threshold,
        trend=trend,
        p_threshold_trend=p_threshold_trend,
        no_periods=no_periods,
        past_weeks_not_included=w if past_weeks_not_included is None else past_weeks_not_included,
        alpha=alpha,
        limit54=limit54,
        power_trans=power_trans,
        threshold_method=threshold_method,
    )
    settings.validate()
    positions = (
        _default_positions(series, settings)
        if assess is None
        else [series.index_of(week) for week in assess]
    )
    n = len(positions)
    observed = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    upperbound = np.full(n, np.nan)
    score = np.full(n, np.nan)
    alarm = np.zeros(n, dtype=np.bool_)
    for i, k in enumerate(positions):
        y = float(series.counts[k])
        observed[i] = y
        prediction = _predict(series, k, settings)
        if prediction is None:
            continue
        if settings.threshold_method == "delta":
            found = farrington_threshold(
                prediction.mean,
                prediction.mean_se,
                prediction.phi,
                settings.power_trans,
                settings.alpha,
                y,
            )
        else:
            found = noufaily_threshold(
                prediction.eta,
                prediction.eta_se,
                prediction.phi,
                settings.alpha,
                y,
                settings.threshold_method,
            )
        score[i] = found.score
        cases, weeks = settings.limit54
        recent = series.counts[max(k - weeks + 1, 0) : k + 1]
        # R sums with NA: an unknown recent count leaves limit54 undecided, no alarm.
        enough = not np.isnan(recent).any() and float(recent.sum()) >= cases
        if enough and not math.isnan(found.upper):
            upperbound[i] = found.upper
            expected[i] = prediction.mean
            alarm[i] = found.score > 1 and y != 0
    return Detection(
        method="farrington_flexible",
        weeks=tuple(series.start + k for k in positions),
        observed=observed,
        expected=expected,
        upperbound=upperbound,
        alarm=alarm,
        score=score,
        parameters=settings.as_dict(),
    )


@dataclass(frozen=True)
class _Settings:
    b: int
    w: int
    reweight: bool
    weights_threshold: float
    trend: bool
    p_threshold_trend: float
    no_periods: int
    past_weeks_not_included: int
    alpha: float
    limit54: tuple[int, int]
    power_trans: str
    threshold_method: str

    def validate(self) -> None:
        if self.b < 1 or self.w < 0:
            raise InputError(f"b must be at least 1 and w at least 0, not b={self.b}, w={self.w}.")
        if self.no_periods < 1:
            raise InputError(
                f"no_periods must be at least 1 (1: no seasonal factor), not {self.no_periods}."
            )
        if self.past_weeks_not_included < 0:
            raise InputError(
                f"past_weeks_not_included must be 0 or more, not {self.past_weeks_not_included}."
            )
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must lie between 0 and 1, not {self.alpha}.")
        cases, weeks = self.limit54
        if not (cases >= 0 and weeks > 0):
            raise InputError(
                f"limit54 {self.limit54} is out of bounds: give (cases, weeks) with cases >= 0 "
                "and weeks > 0."
            )
        if self.power_trans not in _POWERS:
            raise InputError(
                f"power_trans {self.power_trans!r} is not a proper exponent; use '2/3', '1/2' "
                "or 'none'."
            )
        if self.threshold_method not in _METHODS:
            raise InputError(
                f"threshold_method {self.threshold_method!r} is unknown; use 'delta', "
                "'nbPlugin' or 'muan'."
            )

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class _Prediction(NamedTuple):
    eta: float  # linear predictor at the assessed week
    eta_se: float
    mean: float  # exp(eta)
    mean_se: float
    phi: float  # max(Pearson dispersion, 1)


@dataclass(frozen=True)
class _Fit:
    """One quasi-Poisson fit, with the quantities R's summary and predict use."""

    params: FloatArray
    kept: list[int]  # design columns kept (R's aliased columns dropped)
    mu: FloatArray
    hat: FloatArray
    cov_unscaled: FloatArray
    dispersion: float  # Pearson X2 / df, the estimate R's summary.glm gives
    df: int
    converged: bool
    # The dispersion of the trend's t-test and of the prediction's standard error
    # (R's summary.glm of the model farringtonFlexible keeps; see _fit_flexible).
    se_dispersion: float
    trend: bool = False  # the design has the wtime column (column 1)

    @property
    def phi(self) -> float:
        return max(self.dispersion, 1.0)

    @property
    def has_trend(self) -> bool:
        """The trend is estimated (R would fail where wtime is aliased; here it is not)."""
        return self.trend and 1 in self.kept

    def linear_predictor(self, row: FloatArray) -> tuple[float, float]:
        """``eta0`` and its standard error at a design row (R's predict.glm, link)."""
        x0 = row[self.kept]
        eta = float(x0 @ self.params)
        se = math.sqrt(float(x0 @ self.cov_unscaled @ x0) * self.se_dispersion)
        return eta, se

    def trend_p_value(self) -> float:
        """Two-sided t-test of the trend on ``df`` degrees of freedom (R's summary.glm)."""
        j = self.kept.index(1)
        t = self.params[j] / math.sqrt(self.se_dispersion * self.cov_unscaled[j, j])
        return 2 * float(stats.t.sf(abs(t), self.df))


class _Baseline(NamedTuple):
    y: FloatArray
    wtime: FloatArray
    groups: FloatArray
    levels: list[float]
    now_wtime: float


def _r_weekday(day: date) -> int:
    """R's ``format(day, "%w")``: 0 for Sunday to 6 for Saturday."""
    return (day.weekday() + 1) % 7


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year: R's POSIXlt rolls it to 1 March
        return date(day.year - years, 3, 1)


def _reference_positions(series: WeeklySeries, k: int, b: int) -> list[int] | None:
    """Positions of the ``b`` reference weeks of position ``k``, newest first."""
    first = series.start.monday()
    days = reference_days((series.start + k).monday(), b)[1:]
    positions = [(day - first).days // 7 for day in days]
    return None if min(positions) < 0 else positions


def _default_positions(series: WeeklySeries, settings: _Settings) -> list[int]:
    start = 52 * settings.b + settings.w
    while start < len(series) and _reference_positions(series, start, settings.b) is None:
        start += 1
    if start >= len(series):
        raise InputError(
            f"the series ({len(series)} weeks from {series.start}) is too short for "
            f"b={settings.b} years of history and w={settings.w}: it needs more than "
            f"{52 * settings.b + settings.w} weeks; lower b or give a longer series."
        )
    return list(range(start, len(series)))


def _blocks(now: int, references: list[int], n: int, w: int, periods: int) -> FloatArray:
    """Block of each position (``NaN``: outside the baseline); R's ``blocks``.

    The windows around ``now`` (``now - w .. now``) and around each reference week are
    block ``periods``; with ``periods > 1`` the weeks from one window to the next are
    split into ``periods - 1`` blocks, the first ``gap %% (periods - 1)`` a week longer.
    """
    blocks = np.full(n, np.nan)
    blocks[max(now - w, 0) : now + 1] = periods
    later = now
    for ref in references:
        blocks[max(ref - w, 0) : ref + w + 1] = periods
        if periods != 1:
            gap = later - 2 * w - 1 - ref
            if gap < periods - 1:
                raise InputError(
                    f"no_periods={periods} needs at least {periods - 1} weeks between the "
                    f"windows of two years, and there are {gap}; lower no_periods or w."
                )
            length, rest = divmod(gap, periods - 1)
            start = ref + w + 1
            for block in range(1, periods):
                size = length + (1 if block <= rest else 0)
                blocks[start : start + size] = block
                start += size
        later = ref
    return blocks


def _baseline(series: WeeklySeries, k: int, settings: _Settings) -> _Baseline:
    """R's ``algo.farrington.data.glm``: the baseline weeks of position ``k``."""
    references = _reference_positions(series, k, settings.b)
    if references is None:
        week = series.start + k
        raise InputError(
            f"{week} has no reference week {settings.b} years back: the series starts at "
            f"{series.start} (R: 'Some reference time points did not exist'); assess later "
            "weeks or lower b."
        )
    blocks = _blocks(k, references, len(series), settings.w, settings.no_periods)
    levels = sorted(set(blocks[~np.isnan(blocks)].tolist()))
    excluded = blocks.copy()
    excluded[max(k - settings.past_weeks_not_included, 0) : k + 1] = np.nan
    (indexes,) = np.nonzero(~np.isnan(excluded))
    if indexes.size == 0:
        empty = np.zeros(0)
        return _Baseline(empty, empty, empty, levels, 0.0)
    # Weeks since the first baseline week (R: date differences over the first spacing).
    wtime = (indexes - indexes[0]).astype(np.float64)
    known = ~np.isnan(series.counts[indexes])
    return _Baseline(
        y=series.counts[indexes][known],
        wtime=wtime[known],
        groups=blocks[indexes][known],
        levels=levels,
        now_wtime=float(k - indexes[0]),
    )


def _design(wtime: FloatArray, groups: FloatArray, levels: list[float], trend: bool) -> FloatArray:
    """R's ``response ~ 1 + wtime + seasgroups`` model matrix (treatment contrasts)."""
    columns = [np.ones_like(wtime)]
    if trend:
        columns.append(wtime)
    columns.extend((groups == level).astype(np.float64) for level in levels[1:])
    return np.column_stack(columns)


def _independent_columns(x: FloatArray) -> list[int]:
    """Columns kept by R's ``glm``: each one not a combination of those before it.

    An empty seasonal block (all its weeks unknown) gives a zero column, which R's
    ``model.frame(drop.unused.levels = TRUE)`` drops; a column collinear with those
    before it R's pivoting QR reports as aliased (``NA``, predicted as 0). Dropping
    such columns reproduces both.
    """
    kept: list[int] = []
    for j in range(x.shape[1]):
        if np.linalg.matrix_rank(x[:, [*kept, j]]) == len(kept) + 1:
            kept.append(j)
    return kept


class _RPoisson(Poisson):  # type: ignore[misc]
    """Poisson family whose IRLS starts where R's ``poisson()$initialize`` does."""

    def starting_mu(self, y: FloatArray) -> FloatArray:
        return np.asarray(y + 0.1, dtype=np.float64)


def _glm(y: FloatArray, x: FloatArray, weights: FloatArray | None = None) -> _Fit | None:
    """Quasi-Poisson fit as R's ``glm(family = quasipoisson)`` makes it.

    statsmodels' IRLS with R's start and stopping rule (``|dev - dev_old| <= 1e-9 +
    1e-8 |dev|``, 25 iterations). R's dispersion ``sum(w_i r_i^2) / df``, its covariance
    and its hat values use the working weights ``w_i`` of the last iteration (those
    from which the final coefficients were solved) with the final working residuals
    ``r_i = (y_i - mu_i) / mu_i``; they are computed so here too.
    """
    kept = _independent_columns(x)
    xk = x[:, kept]
    df = y.size - len(kept)
    if df <= 0:
        return None
    model = GLM(y, xk, family=_RPoisson(), var_weights=weights)
    with warnings.catch_warnings():
        # An all-zero baseline fits mu -> 0 and statsmodels warns of "perfect
        # prediction"; R converges there too, and so the week is assessed as R does.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        result = model.fit(maxiter=_MAXIT, tol=_EPSILON * 0.1, rtol=_EPSILON)
    mu = np.asarray(result.mu, dtype=np.float64)
    working = np.asarray(model.weights, dtype=np.float64)
    q, _ = np.linalg.qr(np.sqrt(working)[:, None] * xk)
    dispersion = float(np.sum(working * ((y - mu) / mu) ** 2)) / df
    return _Fit(
        params=np.asarray(result.params, dtype=np.float64),
        kept=kept,
        mu=mu,
        hat=np.sum(q**2, axis=1),
        cov_unscaled=np.asarray(result.normalized_cov_params, dtype=np.float64),
        dispersion=dispersion,
        df=df,
        converged=bool(result.converged),
        se_dispersion=dispersion,
    )


def _fit_flexible(baseline: _Baseline, trend: bool, settings: _Settings) -> _Fit | None:
    """R's ``algo.farrington.fitGLM.flexible``: fit, and refit with Anscombe weights.

    The trend is dropped when the fit with it does not converge; ``None`` when the fit
    without it does not converge either.
    """
    x = _design(baseline.wtime, baseline.groups, baseline.levels, trend)
    fit = _glm(baseline.y, x)
    if fit is not None and not fit.converged and trend:
        trend = False
        x = _design(baseline.wtime, baseline.groups, baseline.levels, trend)
        fit = _glm(baseline.y, x)
    if fit is None or not fit.converged:
        return None
    if settings.reweight:
        # Anscombe residuals of the first fit, standardised by phi and the leverage. A
        # week fitted exactly (alone in its block) has leverage 1 and residual 0 / 0:
        # taken as 0 here, weight gamma (R gets NA weights there and fails).
        y, mu = baseline.y, fit.mu
        anscombe = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - mu**0.5)
        spread = np.sqrt(fit.phi * np.clip(1 - fit.hat, 0, None))
        standardised = np.divide(anscombe, spread, out=np.zeros_like(anscombe), where=spread > 0)
        omega = anscombe_weights(standardised, settings.weights_threshold)
        fit = _glm(baseline.y, x, omega)
        if fit is None:
            return None
        # R's fitGLM.flexible then sets model$weights <- omega, where glm keeps its
        # working weights; summary.glm, and so the trend's t-test and predict.glm's
        # standard error, then take sum(omega_i r_i^2) / df for the dispersion, with the
        # working residuals r_i = (y_i - mu_i) / mu_i (not Pearson's mu_i r_i^2).
        residuals = (baseline.y - fit.mu) / fit.mu
        fit = replace(fit, se_dispersion=float(np.sum(omega * residuals**2)) / fit.df)
    return replace(fit, trend=trend)


def _exp(x: float) -> float:
    """``exp`` that overflows to ``inf``, as R's does, rather than raising."""
    return math.exp(x) if x < _LOG_MAX else math.inf


def _predict(series: WeeklySeries, k: int, settings: _Settings) -> _Prediction | None:
    """R's ``algo.farrington.glm``: the prediction at position ``k`` and its dispersion."""
    baseline = _baseline(series, k, settings)
    if baseline.y.size == 0:
        return None
    if settings.no_periods > 1 and not np.any(baseline.groups == settings.no_periods):
        # No known count in the assessed week's own block: nothing to predict it from
        # (R fails: "factor seasgroups has new level").
        return None

    def now(trend: bool) -> FloatArray:
        """The design row of the assessed week: its time and block ``no_periods``."""
        wtime = np.array([baseline.now_wtime])
        block = np.array([float(settings.no_periods)])
        row: FloatArray = _design(wtime, block, baseline.levels, trend)[0]
        return row

    fit = _fit_flexible(baseline, settings.trend, settings)
    if fit is not None and fit.has_trend:
        eta, _ = fit.linear_predictor(now(fit.trend))
        keep = (
            settings.b >= 3
            and fit.trend_p_value() < settings.p_threshold_trend
            and _exp(eta) <= float(baseline.y.max())
        )
        if not keep:
            fit = _fit_flexible(baseline, False, settings)
    if fit is None:
        return None
    eta, se = fit.linear_predictor(now(fit.trend))
    mean = _exp(eta)
    return _Prediction(eta=eta, eta_se=se, mean=mean, mean_se=se * mean, phi=fit.phi)
