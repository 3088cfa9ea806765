"""A negative-binomial CUSUM: the likelihood-ratio and GLR detectors of Höhle & Paul.

Höhle & Paul (2008), *Count data regression charts for the monitoring of
surveillance time series*, Computational Statistics & Data Analysis 52:4357, monitor
weekly counts ``y_t ~ NB(mu_t, alpha)`` (mean ``mu_t``, variance ``mu_t + alpha
mu_t^2``; ``alpha = 0`` is Poisson) for a change of the in-control mean ``mu0_t`` to
``mu0_t * exp(kappa)`` from an unknown week on. The log-likelihood ratio of one week is

    z_t(kappa) = kappa y_t + (y_t + 1/alpha) log((1 + alpha mu0_t) / (1 + alpha mu0_t e^kappa))

(Poisson: ``kappa y_t - (e^kappa - 1) mu0_t``), and a chart alarms at the first week
``n`` whose statistic reaches ``c_arl``:

- **known change** (``theta`` given, ``kappa = theta``): the CUSUM
  ``S_n = max(0, S_{n-1} + z_n(theta))``, alarm when ``S_n > c_arl``;
- **unknown change** (``theta=None``): the generalised likelihood ratio
  ``GLR_n = max_{k <= n} sup_kappa sum_{t=k}^{n} z_t(kappa)``, with ``kappa >= 0``
  (``direction="inc"``) or ``kappa <= 0`` (``"dec"``), alarm when ``GLR_n >= c_arl``.
  The inner supremum is the maximum of a concave function: the score is convex and
  decreasing in ``u = e^kappa``, so after one Newton step the iterates rise
  monotonically to the root, from the boundary of the allowed half-line or from the
  previous week's estimate (R: Newton from 0.5 or the previous window's estimate, to a
  step of 1e-6). Every change point since the last alarm is a window, so week ``n``
  costs ``O(n^2)``: a few seconds for five years without an alarm, more with
  ``ret="cases"``.

After an alarm the chart restarts from zero at the next week (R's only behaviour). The
number of cases at which a week would alarm (``ret="cases"``) solves ``S_{n-1} +
z_n(theta) = c_arl`` for the count (known change), or is the smallest count whose GLR
reaches ``c_arl`` (unknown change; found by an exponential and bisection search, the
GLR being monotone in the week's count).

When ``mu0`` is not given it is estimated, as R's ``estimateGLRNbHook`` with its
default ``mu0 = list(S = 1, trend = FALSE)``, by a log-linear model
``y ~ 1 + cos(2 pi t / 52) + sin(2 pi t / 52)`` (one harmonic, no trend) on the baseline
weeks (``t`` the week's 1-based position in the series): a negative-binomial maximum
likelihood fit (statsmodels ``NegativeBinomial``, NB2) that estimates ``alpha`` too
when ``alpha`` is ``None``, a GLM with ``alpha`` fixed otherwise, Poisson for
``alpha = 0``; then predicted for the assessed weeks.

This module mirrors ``surveillance::algo.glrnb`` (R package surveillance 1.20.3,
``change = "intercept"``, ``Mtilde = 1``, ``M = -1``: every change point since the
last alarm is considered). Where it deviates:

- **Unknown counts** (``NaN``) contribute nothing (R passes them to C as ``NA_integer_``,
  a garbage value): the statistic carries over such a week, which is not assessed
  (``NaN`` upperbound and score, no alarm); the mu0 fit drops them (as R's ``glm``).
- **Cases of the negative-binomial GLR**: R searches upwards from the observed count
  while it is at least 1, so a week with 0 cases gets ``1e99``, and gives up at
  ``xMax = 10000``; here every week gets the smallest count that alarms.
- **All-zero windows with ``direction="dec"``**: the supremum over ``kappa -> -inf`` is
  the limit ``sum (1/alpha) log(1 + alpha mu0_t)`` (Poisson ``sum mu0_t``). R's Newton
  stops as soon as ``kappa < -18`` (NB; a value smaller by at most ``e^-18 sum mu0_t``)
  and its Poisson code skips such windows (``0 * log 0`` is ``NaN``).
- **Cases with ``direction="dec"``**: the week alarms when its count falls *below* the
  upperbound (the smallest count that does not alarm), as R's Poisson code; R's NB
  search runs the wrong way.
- **mu0 fits** iterate to convergence (R's ``glm`` stops at a relative deviance change of
  1e-8, which leaves its fixed-``alpha`` coefficients about 5e-8 from the optimum).
  A baseline without overdispersion (the NB likelihood highest at ``alpha = 0``) gives
  the Poisson chart, ``alpha = 0``, where R's ``glm.nb`` warns and returns a huge theta;
  a fit whose means run off to 0 raises ``ConvergenceFailed`` (R carries on with it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from scipy.special import xlogy
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from perron.protocol.errors import ConvergenceFailed, InputError, ModelError
from perron.surveillance.series import Detection, WeeklySeries
from perron.surveillance.weeks import IsoWeek

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: Weeks of the seasonal cycle in the mu0 model (R: the disProg's ``freq``).
PERIOD = 52
#: Newton iterations allowed for one supremum; convergence is monotone, this is a guard.
_MAX_NEWTON = 500
#: Smallest in-control mean a fitted model may give (below it, the fit has degenerated).
_MIN_MEAN = 1e-8
#: Relative step at which Newton's iteration for the change estimate stops.
_NEWTON_RTOL = 1e-11
#: Doublings allowed in the search for the alarming count (2**60 cases).
_MAX_DOUBLINGS = 60


@dataclass(frozen=True)
class _Mu0Fit:
    """The in-control model fitted on the baseline weeks."""

    mu0: FloatArray
    alpha: float
    coefficients: tuple[float, ...]
    baseline: tuple[IsoWeek, ...]


def nb_cusum(
    series: WeeklySeries,
    *,
    mu0: npt.ArrayLike | None = None,
    alpha: float | None = None,
    theta: float | None = None,
    c_arl: float = 5.0,
    direction: str = "inc",
    assess: Sequence[IsoWeek] | None = None,
    baseline: Sequence[IsoWeek] | None = None,
    ret: str = "cases",
) -> Detection:
    """Negative-binomial CUSUM (``theta`` given) or GLR detector, as R's ``algo.glrnb``.

    Parameters
    ----------
    series
        The weekly counts.
    mu0
        In-control means of the assessed weeks (one per week of ``assess``). ``None``:
        estimated on ``baseline`` by the seasonal log-linear model (module docstring).
    alpha
        Dispersion: variance ``mu + alpha mu^2``; 0 is Poisson. ``None``: estimated
        with mu0 by maximum likelihood (needs ``mu0=None``).
    theta
        The change of the log mean to detect (likelihood-ratio CUSUM); positive with
        ``direction="inc"``, negative with ``"dec"``. ``None``: the GLR detector, which
        estimates the change.
    c_arl
        The alarm threshold of the statistic.
    direction
        ``"inc"`` to detect an increase, ``"dec"`` a decrease.
    assess
        The weeks to monitor, in calendar order. ``None``: the weeks after the last
        baseline week if ``baseline`` is given, else every week of the series.
    baseline
        The weeks to fit mu0 on; ``None``: every week before the first assessed week
        (R's choice). Only used when ``mu0`` is ``None``.
    ret
        ``"cases"``: ``upperbound`` is the count at which the week would alarm;
        ``"value"``: ``upperbound`` is the statistic itself, as R returns it.

    Returns
    -------
    Detection
        ``method`` ``"nb_cusum"`` (known change) or ``"nb_glr"``; ``expected`` is mu0,
        ``score`` the statistic. ``parameters`` holds ``c_arl``, ``alpha``,
        ``alpha_estimated``, ``theta``, ``direction``, ``ret`` and, when mu0 was
        estimated, ``mu0_coefficients`` (intercept, cos, sin) and ``baseline`` (first
        and last week).

    Raises
    ------
    InputError
        For a bad argument, mu0 of the wrong length or not positive, ``alpha=None``
        with a given mu0, or too few known baseline weeks.
    ModelError
        When mu0 cannot be estimated: a baseline without cases, or (``ConvergenceFailed``)
        a fit that does not converge or fits a few cases exactly.

    Examples
    --------
    >>> counts = [4, 6, 5, 3, 5, 4, 12, 14, 15]
    >>> series = WeeklySeries(IsoWeek(2024, 1), counts)
    >>> found = nb_cusum(series, mu0=[5.0] * 9, alpha=0.1, theta=0.7, c_arl=3.0)
    >>> [str(w) for w in found.alarm_weeks], found.upperbound[:2].round(2).tolist()
    (['2024-W08', '2024-W09'], [14.46, 14.46])
    """
    _check_options(c_arl, direction, ret, theta, alpha)
    if assess is not None:
        positions = _positions(series, assess, "assess")
    elif baseline is not None:
        last = int(_positions(series, baseline, "baseline")[-1])
        if last + 1 >= len(series):
            raise InputError(
                f"the baseline ends with the series ({series.start + last}): no week is "
                "left to assess; give assess, or a shorter baseline."
            )
        positions = np.arange(last + 1, len(series), dtype=np.intp)
    else:
        positions = np.arange(len(series), dtype=np.intp)
    x = series.counts[positions]
    known = ~np.isnan(x)

    fit: _Mu0Fit | None = None
    if mu0 is None:
        if baseline is not None:
            train = _positions(series, baseline, "baseline")
        elif positions[0] > 0:
            train = np.arange(positions[0], dtype=np.intp)
        else:
            raise InputError(
                "mu0 is not given and no week precedes the first assessed week to estimate "
                "it on: give mu0, or assess later weeks, or name the baseline weeks."
            )
        fit = _fit_mu0(series, train, positions, alpha)
        means, dispersion = fit.mu0, fit.alpha
    else:
        if alpha is None:
            raise InputError(
                "alpha=None estimates the dispersion together with mu0 on the baseline; with "
                "a given mu0, give alpha too (0 for Poisson), or leave mu0=None."
            )
        means, dispersion = _check_mu0(mu0, positions.size), alpha

    sign = 1 if direction == "inc" else -1
    if theta is None:
        stat, cases, alarm = _glr_chart(x, means, known, dispersion, c_arl, sign, ret == "cases")
    else:
        stat, cases, alarm = _lr_chart(x, means, known, dispersion, theta, c_arl)
    # R reports upperbounds below zero as zero (a count that alarms whatever is seen).
    upper = np.maximum(0.0, cases if ret == "cases" else stat)
    parameters: dict[str, object] = {
        "c_arl": c_arl,
        "alpha": dispersion,
        "alpha_estimated": alpha is None,
        "theta": theta,
        "direction": direction,
        "ret": ret,
    }
    if fit is not None:
        parameters["mu0_coefficients"] = fit.coefficients
        parameters["baseline"] = (str(fit.baseline[0]), str(fit.baseline[-1]))
    return Detection(
        method="nb_glr" if theta is None else "nb_cusum",
        weeks=tuple(series.start + int(p) for p in positions),
        observed=x.copy(),
        expected=means,
        upperbound=upper,
        alarm=alarm,
        score=stat,
        parameters=parameters,
    )


def _check_options(
    c_arl: float, direction: str, ret: str, theta: float | None, alpha: float | None
) -> None:
    if not (np.isfinite(c_arl) and c_arl > 0):
        raise InputError(f"c_arl must be a positive number (got {c_arl}); R's default is 5.")
    if direction not in ("inc", "dec"):
        raise InputError(f"direction must be 'inc' or 'dec' (got {direction!r}).")
    if ret not in ("cases", "value"):
        raise InputError(f"ret must be 'cases' or 'value' (got {ret!r}).")
    if alpha is not None and not (np.isfinite(alpha) and alpha >= 0):
        raise InputError(f"alpha must be 0 (Poisson) or positive (got {alpha}).")
    if theta is not None:
        if not np.isfinite(theta) or theta == 0:
            raise InputError(
                f"theta must be a non-zero change of the log mean (got {theta}), e.g. 0.4; "
                "or None to estimate the change (GLR)."
            )
        if (theta > 0) != (direction == "inc"):
            wanted = "inc" if theta > 0 else "dec"
            raise InputError(
                f"theta={theta} is {'an increase' if theta > 0 else 'a decrease'} of the log "
                f"mean, but direction={direction!r}; pass direction={wanted!r}."
            )


def _positions(series: WeeklySeries, weeks: Sequence[IsoWeek], name: str) -> IntArray:
    if len(weeks) == 0:
        raise InputError(f"{name} names no week; give at least one, or None.")
    return np.array(sorted({series.index_of(w) for w in weeks}), dtype=np.intp)


def _check_mu0(mu0: npt.ArrayLike, n: int) -> FloatArray:
    means = np.asarray(mu0, dtype=np.float64)
    if means.ndim != 1 or means.size != n:
        raise InputError(
            f"mu0 has {means.size} values but {n} weeks are assessed; give one in-control "
            "mean per assessed week, or mu0=None to estimate them."
        )
    if not np.all(np.isfinite(means) & (means > 0)):
        raise InputError("mu0 must be positive and finite in every assessed week.")
    return means


# ---------------------------------------------------------------------------------------
# The in-control model (R's estimateGLRNbHook)


def _design(positions: IntArray) -> FloatArray:
    t = positions.astype(np.float64) + 1.0  # R's t: the 1-based index in the series
    angle = 2.0 * np.pi / PERIOD * t
    return np.column_stack([np.ones_like(t), np.cos(angle), np.sin(angle)])


def _fit_mu0(
    series: WeeklySeries, train: IntArray, assess: IntArray, alpha: float | None
) -> _Mu0Fit:
    """Fit ``log mu = b0 + b1 cos(2 pi t/52) + b2 sin(2 pi t/52)`` and predict ``assess``."""
    y = series.counts[train]
    keep = ~np.isnan(y)
    y, rows = y[keep], train[keep]
    if y.size < 4:
        raise InputError(
            f"the baseline has {y.size} weeks with a known count; the in-control model needs "
            "at least 4 (three coefficients and a residual). Give a longer baseline, or mu0."
        )
    if not np.any(y > 0):
        raise ModelError(
            "the baseline has no case at all, so the in-control mean cannot be estimated "
            "(its log would be minus infinity); give mu0, or a baseline with cases."
        )
    design = _design(rows)
    with warnings.catch_warnings():
        # Convergence is checked below and reported as ConvergenceFailed; a fit whose
        # means run off to 0 ("perfect prediction": a handful of cases in one season)
        # does not converge either.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            beta, dispersion, converged = _fit_glm(y, design, 0.0 if alpha is None else alpha)
            if alpha is None and converged and _overdispersed(y, np.exp(design @ beta)):
                beta, dispersion, converged = _fit_nb(y, design)
    mu0 = np.exp(_design(assess) @ beta)
    fitted = np.exp(design @ beta)
    # A mean run off towards 0 is the seasonal curve fitting a few cases exactly, not an
    # estimate (IRLS may still report convergence: the deviance stops changing).
    degenerate = not (np.all(fitted > _MIN_MEAN) and np.all(np.isfinite(mu0) & (mu0 > _MIN_MEAN)))
    if not converged or not np.all(np.isfinite(beta)) or not dispersion >= 0 or degenerate:
        raise ConvergenceFailed(
            "the in-control model (intercept and one yearly harmonic) did not converge on "
            "the baseline weeks (too few cases to fix a seasonal curve?); give mu0, or a "
            "longer baseline."
        )
    return _Mu0Fit(
        mu0=mu0,
        alpha=dispersion,
        coefficients=tuple(float(b) for b in beta),
        baseline=tuple(series.start + int(p) for p in rows),
    )


def _fit_glm(y: FloatArray, design: FloatArray, alpha: float) -> tuple[FloatArray, float, bool]:
    """IRLS for a fixed alpha (Poisson at 0), iterated to a deviance change of 1e-13."""
    family = sm.families.Poisson() if alpha == 0 else sm.families.NegativeBinomial(alpha=alpha)
    fit = sm.GLM(y, design, family=family).fit(tol=1e-13, maxiter=500)
    beta = np.asarray(fit.params, dtype=np.float64)
    # A deviance change of 1e-13 can be below round-off for a long series (IRLS then
    # oscillates in the last bits and reports no convergence); the score equations
    # X'(y - mu)/(1 + alpha mu) = 0 holding to 1e-9 of the cases is convergence too.
    with np.errstate(over="ignore", invalid="ignore"):
        mu = np.exp(design @ beta)
        score = design.T @ ((y - mu) / (1.0 + alpha * mu))
    solved = bool(np.all(np.isfinite(score)) and np.max(np.abs(score)) <= 1e-9 * max(y.sum(), 1.0))
    return beta, alpha, bool(fit.converged) or solved


def _overdispersed(y: FloatArray, mu: FloatArray) -> bool:
    """Whether the NB likelihood rises from alpha = 0 at the Poisson fit.

    Its derivative in alpha there is ``sum((y - mu)^2 - y) / 2`` (the score of Cameron &
    Trivedi's overdispersion test). When it is not positive the maximum is at the
    boundary alpha = 0, where R's ``glm.nb`` drives theta to infinity (with a warning);
    the Poisson chart is that limit.
    """
    return bool(np.sum((y - mu) ** 2 - y) > 0)


def _fit_nb(y: FloatArray, design: FloatArray) -> tuple[FloatArray, float, bool]:
    """Joint maximum likelihood of the coefficients and alpha (R: ``MASS::glm.nb``).

    Newton steps in (beta, alpha) from statsmodels' Poisson start converge quadratically
    (``tol`` is on the change of the parameters); should they leave ``alpha > 0``,
    BFGS in ``log alpha`` finds the optimum and Newton polishes it.
    """
    model = NegativeBinomial(y, design, loglike_method="nb2")
    result = model.fit(method="newton", maxiter=200, tol=1e-12, disp=False)
    params = np.asarray(result.params, dtype=np.float64)
    if not (result.mle_retvals["converged"] and params[-1] > 0):
        rough = model.fit(method="bfgs", maxiter=2000, gtol=1e-10, disp=False)
        result = model.fit(
            method="newton", start_params=rough.params, maxiter=200, tol=1e-12, disp=False
        )
        params = np.asarray(result.params, dtype=np.float64)
    converged = bool(result.mle_retvals["converged"]) and params[-1] > 0
    return params[:-1], float(params[-1]), converged


# ---------------------------------------------------------------------------------------
# The known-change CUSUM (R's C lr_cusum / lr_cusum_nb)


def _lr_chart(
    x: FloatArray, mu0: FloatArray, known: BoolArray, alpha: float, theta: float, c: float
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """``S_n = max(0, S_{n-1} + z_n)``; alarm at ``S_n > c``, then ``S`` restarts at 0."""
    growth = np.expm1(theta)  # e^theta - 1
    if alpha == 0:
        # z = theta x - (e^theta - 1) mu0
        slope = np.full_like(mu0, theta)
        level = -growth * mu0
    else:
        # z = theta x + (x + 1/alpha) L,  L = log((1 + alpha mu0) / (1 + alpha mu0 e^theta))
        log_ratio = -np.log1p(alpha * mu0 * growth / (1.0 + alpha * mu0))
        slope = theta + log_ratio
        level = log_ratio / alpha
    stat = np.full(x.size, np.nan)
    cases = np.full(x.size, np.nan)
    alarm = np.zeros(x.size, dtype=np.bool_)
    s = 0.0
    for n in np.flatnonzero(known):
        # The count that brings S_{n-1} + z_n to c: slope * y + level = c - S_{n-1}.
        cases[n] = (c - s - level[n]) / slope[n]
        s = max(0.0, s + slope[n] * x[n] + level[n])
        stat[n] = s
        if s > c:
            alarm[n] = True
            s = 0.0
    return stat, cases, alarm


# ---------------------------------------------------------------------------------------
# The GLR detector (R's C glr_cusum / glr_nb_window)


def _glr_chart(
    x: FloatArray,
    mu0: FloatArray,
    known: BoolArray,
    alpha: float,
    c: float,
    sign: int,
    want_cases: bool,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """GLR over every change point since the last alarm; alarm at ``GLR_n >= c``."""
    stat = np.full(x.size, np.nan)
    cases = np.full(x.size, np.nan)
    alarm = np.zeros(x.size, dtype=np.bool_)
    start = 0
    # Each window's estimate at the previous week starts Newton's iteration at this one.
    guess = np.empty(0)
    bound = np.nan
    for n in np.flatnonzero(known):
        window = np.flatnonzero(known[start : n + 1]) + start
        guess = np.append(guess, _BOUNDARY[sign])
        stat[n], guess = _glr(x[window], mu0[window], alpha, sign, guess)
        if want_cases:
            # The count that alarms moves little from week to week: search from the last.
            near = int(x[n]) if np.isnan(bound) else int(bound)
            bound = cases[n] = _alarm_count(x[window], mu0[window], alpha, sign, c, guess, near)
        if stat[n] >= c:
            alarm[n] = True
            start = int(n) + 1
            guess = np.empty(0)
    return stat, cases, alarm


def _alarm_count(
    x: FloatArray,
    mu0: FloatArray,
    alpha: float,
    sign: int,
    c: float,
    guess: FloatArray,
    near: int,
) -> int:
    """The smallest count of the last week that alarms (``sign=1``) or does not (``-1``).

    The GLR is monotone in the week's count (increasing for an increase, decreasing for a
    decrease), so ``wanted(y)`` below is false up to some count and true from it on: an
    exponential search from ``near`` brackets the switch, bisection finds it.
    """
    trial = x.copy()

    def wanted(count: int) -> bool:
        trial[-1] = count
        return bool(_glr(trial, mu0, alpha, sign, guess)[0] >= c) == (sign == 1)

    if wanted(near):
        # Search down: the largest count that is not wanted (or 0 is wanted already).
        high, step = near, 1
        while True:
            low = max(high - step, 0)
            if not wanted(low):
                break
            if low == 0:
                return 0
            high, step = low, step * 2
    else:
        low, step = near, 1
        for _ in range(_MAX_DOUBLINGS):
            high = low + step
            if wanted(high):
                break
            low, step = high, step * 2
        else:  # pragma: no cover - the GLR grows without bound in the count
            raise ConvergenceFailed("no count up to 2**60 alarms; check mu0 and alpha.")
    # Now wanted(low) is false and wanted(high) is true.
    while high - low > 1:
        middle = (low + high) // 2
        if wanted(middle):
            high = middle
        else:
            low = middle
    return high


#: The end of the allowed half-line of ``u = e^kappa`` that Newton's iteration starts from
#: without a better guess: ``u = 1`` (kappa = 0) for an increase, ``u = 0`` for a decrease.
_BOUNDARY = {1: 1.0, -1: 0.0}


def _glr(
    x: FloatArray, mu0: FloatArray, alpha: float, sign: int, guess: FloatArray
) -> tuple[float, FloatArray]:
    """``max_k sup_kappa sum_{t=k}^{n} z_t(kappa)`` over the windows ending at the last week.

    Also returns each window's ``u = e^kappa`` at the supremum (the next week's guess).
    """
    values, u = _suffix_sup(x, mu0, alpha, sign, guess)
    return float(np.max(values)), u


def _suffix_sup(
    x: FloatArray, mu0: FloatArray, alpha: float, sign: int, guess: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``sup_kappa sum_{t>=k} z_t(kappa)`` for each start ``k``, kappa restricted by ``sign``.

    With ``u = e^kappa``, the score of a window is ``g(u) = sum (x - u mu)/(1 + alpha u
    mu)``, convex and decreasing in ``u >= 0`` (Poisson: linear). The supremum over
    ``u >= 1`` (an increase) is 0 when ``g(1) <= 0`` and otherwise at the root of ``g``;
    over ``0 <= u <= 1`` (a decrease) it is 0 when ``g(1) >= 0`` and otherwise at the
    root; a window without cases has its supremum in the limit ``u -> 0``. By convexity
    the tangent lies below ``g``, so a Newton step from any point lands at or left of the
    root; kept inside the half-line (``max(u, 1)`` or ``max(u, 0)``, both left of the
    root), the iterates then rise monotonically to it, from ``guess`` (one per window:
    the estimate of the previous week, or the boundary) as from anywhere.
    """
    # Reversed cumulative sums: entry k sums the window x[k:].
    sum_x = np.cumsum(x[::-1])[::-1]
    sum_mu = np.cumsum(mu0[::-1])[::-1]
    if alpha == 0:
        # Poisson: the root is u = sum x / sum mu0, l(u) = sum x log u - (u - 1) sum mu0.
        u = sum_x / sum_mu
        u = np.maximum(u, 1.0) if sign == 1 else np.minimum(u, 1.0)
        return np.asarray(xlogy(sum_x, u) - (u - 1.0) * sum_mu, dtype=np.float64), u
    score_at_one = np.cumsum(((x - mu0) / (1.0 + alpha * mu0))[::-1])[::-1]
    solve = np.flatnonzero(score_at_one * sign > 0)
    result = np.zeros(x.size)
    estimate = np.full(x.size, 1.0)
    if solve.size == 0:
        return result, estimate
    # One row per window to solve: row r covers weeks solve[r] .. end (columns from the
    # first row's start on; earlier columns are outside every row).
    first = int(solve[0])
    xs, ms = x[first:], mu0[first:]
    inside = np.arange(first, x.size)[None, :] >= solve[:, None]
    weight = ms * (1.0 + alpha * xs)  # -g'(u) = sum mu (1 + alpha x) / (1 + alpha u mu)^2
    floor = _BOUNDARY[sign]
    u = np.maximum(guess[solve], floor)
    for _ in range(_MAX_NEWTON):
        scaled = u[:, None] * ms[None, :]
        denominator = 1.0 + alpha * scaled
        score = np.sum(np.where(inside, (xs - scaled) / denominator, 0.0), axis=1)
        slope = np.sum(np.where(inside, weight / denominator**2, 0.0), axis=1)
        step = score / slope
        u_next = np.maximum(u + step, floor)
        # Newton converges quadratically near the root: after a step below 1e-11 (relative)
        # the error left is of order 1e-22, far below what the statistic can show.
        done = bool(np.all(np.abs(u_next - u) <= _NEWTON_RTOL * u_next))
        u = u_next
        if done:
            break
    else:  # pragma: no cover - Newton on a convex monotone score converges
        raise ConvergenceFailed("the GLR's change estimate did not converge; check mu0.")
    log_odds = np.log1p(alpha * ms)[None, :] - np.log1p(alpha * u[:, None] * ms[None, :])
    terms = xlogy(xs[None, :], u[:, None]) + (xs[None, :] + 1.0 / alpha) * log_odds
    result[solve] = np.sum(np.where(inside, terms, 0.0), axis=1)
    estimate[solve] = u
    return result, estimate
