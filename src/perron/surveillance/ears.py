"""EARS C1, C2 and C3: thresholds from the mean and spread of the last few weeks.

The Early Aberration Reporting System of the CDC (Hutwagner et al. 2003, *J Urban
Health* 80:i89; Fricker, Hegler & Dunfee 2008, *Stat Med* 27:3407) compares each
week's count with the mean and standard deviation of a short sliding baseline, so it
needs no years of history:

- **C1** (MILD): the baseline is the ``b`` weeks just before week ``t``
  (``t-b .. t-1``); ``C1(t) = (y_t - mean) / sd``.
- **C2** (MEDIUM): the same with a two-week lag, weeks ``t-b-2 .. t-3``, so an outbreak
  that has begun does not lift its own baseline at once.
- **C3** (HIGH): ``C3(t) = sum_{i=t-2}^{t} max(0, C2(i) - 1)``, the C2 exceedances of
  the week and the two before it.

The standard deviation is floored at ``min_sigma`` (Burkom's extension, for sparse
series) and the threshold is ``mean + z_{1-alpha} * sd``: C1 and C2 are Shewhart
charts on a small sample, C3 a short-memory sum.

This module mirrors ``surveillance::earsC`` (Salmon, Schumacher & Höhle 2016, *J Stat
Softw* 70(10)) of the R package surveillance 1.20.3, line by line, including its
choices:

- **Defaults** are R's: ``baseline = 7``, ``min_sigma = 0``, ``alpha = 0.001`` for C1
  and C2 and ``0.025`` for C3 (R's ``alpha = NULL``), and, with ``assess=None``, every
  week that has enough history (R's default ``range``).
- **Unknown counts** (``NaN``) pass through as R passes ``NA``: a week whose baseline
  (or, for C3, whose two previous weeks or their baselines) holds an unknown count gets
  ``NaN`` expected/upperbound and never alarms; a week whose own count is unknown keeps
  its C1/C2 threshold (it depends on the baseline only) but does not alarm.
- **C3's upperbound** is R's ``y_t + sd_t * (z - p_t)``, floored at 0, where ``p_t`` is
  the sum of the two previous weeks' ``max(0, C2 - 1)``; R alarms when
  ``y_t > upperbound``, which (for ``sd_t > 0``) reduces to ``p_t > z``: R's C3 alarm
  depends on the two *previous* weeks only, not on the week's own count. This module
  reproduces R's upperbound and alarm exactly (the reference tests compare them); the
  documented rule ``C3(t) >= z`` is ``score >= parameters["z"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm

from perron.protocol.errors import InputError
from perron.surveillance.series import Detection, WeeklySeries
from perron.surveillance.weeks import IsoWeek

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

METHODS = ("C1", "C2", "C3")

#: R's default alpha when ``control$alpha`` is NULL: the CDC's choices.
DEFAULT_ALPHA = {"C1": 0.001, "C2": 0.001, "C3": 0.025}


def ears_c(
    series: WeeklySeries,
    *,
    method: str = "C1",
    assess: Sequence[IsoWeek] | None = None,
    alpha: float | None = None,
    baseline: int = 7,
    min_sigma: float = 0.0,
) -> Detection:
    """EARS C1, C2 or C3 on the weeks in ``assess``, as ``surveillance::earsC``.

    Parameters
    ----------
    series
        The weekly counts.
    method
        ``"C1"`` (baseline just before the week), ``"C2"`` (baseline lagged by two
        weeks) or ``"C3"`` (sum of the last three C2 exceedances).
    assess
        The weeks to assess; ``None`` is every week with enough history: from the
        ``baseline + 1``-th week on for C1, ``baseline + 3``-th for C2, ``baseline +
        5``-th for C3 (R's default ``range``). Assessed in calendar order.
    alpha
        The threshold is the ``1 - alpha`` normal quantile; ``None`` is R's default,
        0.001 for C1 and C2 and 0.025 for C3.
    baseline
        Weeks in the sliding baseline, at least 3.
    min_sigma
        Floor of the baseline's standard deviation (0 for none; Burkom suggests 0.5 or 1
        for sparse series).

    Returns
    -------
    Detection
        ``method`` is ``"ears_c1"``, ``"ears_c2"`` or ``"ears_c3"``; ``expected`` the
        baseline mean (C3: that of C2); ``upperbound`` R's upperbound, the count above
        which the week alarms; ``score`` the C1, C2 or C3 statistic. ``parameters``
        holds ``method``, ``alpha``, ``z`` (the normal quantile), ``baseline`` and
        ``min_sigma``.

    Raises
    ------
    InputError
        For an unknown method, ``baseline < 3``, a negative ``min_sigma``, an ``alpha``
        outside (0, 1), or a week to assess without enough history before it.

    Examples
    --------
    >>> counts = [3, 4, 2, 5, 3, 4, 3, 4, 12]
    >>> found = ears_c(WeeklySeries(IsoWeek(2024, 1), counts), method="C1", alpha=0.05)
    >>> [str(w) for w in found.alarm_weeks], round(float(found.upperbound[-1]), 3)
    (['2024-W09'], 5.177)
    """
    method = _check_method(method)
    if alpha is None:
        alpha = DEFAULT_ALPHA[method]
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must lie between 0 and 1 (got {alpha}); R's default is 0.001.")
    if baseline < 3:
        raise InputError(
            f"Minimum baseline to use is 3. (got baseline={baseline}): a standard deviation "
            "needs at least three weeks; use baseline=7, the EARS default."
        )
    if not min_sigma >= 0.0 or not np.isfinite(min_sigma):
        raise InputError(
            f"min_sigma must be zero or positive (got {min_sigma}); use 0 for no floor, "
            "or 0.5 to 1 for sparse series."
        )
    # History a week needs before it: the baseline, plus the two-week lag (C2), plus the
    # two earlier C2 weeks (C3).
    history = {"C1": baseline, "C2": baseline + 2, "C3": baseline + 4}[method]
    positions = _assessed_positions(series, assess, history, method, baseline)

    y = series.counts
    z = float(norm.ppf(1.0 - alpha))  # R: qnorm(1 - alpha)
    lag = 0 if method == "C1" else 2
    mean, sigma = _baseline_moments(y, baseline, lag, min_sigma)

    # Division by a zero spread (a flat baseline, min_sigma = 0) and 0 * inf follow IEEE
    # arithmetic, as in R: the statistic is +-inf or NaN there, not an error.
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (y - mean) / sigma
        if method == "C3":
            # p_t: the two previous weeks' exceedances, max(0, C2 - 1); NaN propagates
            # (np.maximum, like R's pmax, keeps NaN).
            excess = np.maximum(0.0, c - 1.0)
            previous = excess[positions - 2] + excess[positions - 1]
            score = previous + excess[positions]
            upper = np.maximum(0.0, y[positions] + sigma[positions] * (z - previous))
        else:
            score = c[positions]
            upper = mean[positions] + z * sigma[positions]
        observed = y[positions]
        alarm = observed > upper  # NaN compares False: an unknown week never alarms
    return Detection(
        method=f"ears_{method.lower()}",
        weeks=tuple(series.start + int(p) for p in positions),
        observed=observed.copy(),
        expected=mean[positions],
        upperbound=upper,
        alarm=alarm,
        score=score,
        parameters={
            "method": method,
            "alpha": alpha,
            "z": z,
            "baseline": baseline,
            "min_sigma": min_sigma,
        },
    )


def _check_method(method: str) -> str:
    name = method.upper()
    if name not in METHODS:
        raise InputError(f"EARS method {method!r} is unknown; use one of C1, C2, C3.")
    return name


def _assessed_positions(
    series: WeeklySeries,
    assess: Sequence[IsoWeek] | None,
    history: int,
    method: str,
    baseline: int,
) -> IntArray:
    """0-based positions of the weeks to assess, sorted, each with ``history`` weeks before."""
    n = len(series)
    if assess is None:
        if n <= history:
            raise InputError(
                f"The vector of observed is too short: EARS {method} with a baseline of "
                f"{baseline} weeks needs more than {history} weeks, the series has {n}. "
                "Give a longer series or a shorter baseline (at least 3)."
            )
        return np.arange(history, n, dtype=np.intp)
    if len(assess) == 0:
        raise InputError("assess names no week; give at least one, or None for every week.")
    positions = np.array(sorted({series.index_of(w) for w in assess}), dtype=np.intp)
    if positions[0] < history:
        first = series.start + int(positions[0])
        raise InputError(
            f"The vector of observed is too short: EARS {method} with a baseline of "
            f"{baseline} weeks needs {history} weeks before each assessed week, and "
            f"{first} has {positions[0]}. Assess from {series.start + history} on, or "
            "shorten the baseline."
        )
    return positions


def _baseline_moments(
    y: FloatArray, baseline: int, lag: int, min_sigma: float
) -> tuple[FloatArray, FloatArray]:
    """Mean and floored sd of the baseline of every week (NaN where it has none).

    The baseline of week ``t`` is ``y[t-lag-baseline : t-lag]``; ``mean[t]`` and
    ``sigma[t] = max(sd, min_sigma)`` (sample sd, ``ddof=1``, as R's ``sd``).
    """
    n = y.size
    mean = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    if n > baseline + lag:
        windows = sliding_window_view(y, baseline)[: n - baseline - lag]
        mean[baseline + lag :] = windows.mean(axis=1)
        sigma[baseline + lag :] = np.maximum(windows.std(axis=1, ddof=1), min_sigma)
    return mean, sigma
