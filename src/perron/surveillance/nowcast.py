"""Nowcasting: the counts of the latest onset weeks, corrected for reporting delay.

A case with onset in week ``t`` reaches the surveillance system ``d`` weeks later. At
week ``now`` (``T``) the count of onset week ``t`` is known only up to delay ``T - t``:
the *reporting triangle* ``n[t, d]`` (rows: onset weeks, columns: delays ``0..D``) has
its lower right corner still to come, and the latest weeks look like a decline that is
only delay. A nowcast estimates the final counts ``N_t`` from what is reported.

**Lawless (1994)**, *Canad J Statist* 22:15 ("Adjustments for reporting delays and the
prediction of occurred but not reported events"), with the reverse-time hazard of
Kalbfleisch & Lawless (1991, *Biometrika* 78:705); actuaries know it as the
chain-ladder estimate. The reverse-time discrete hazard ``g_x = P(delay = x | delay <=
x)`` is estimated from the onset weeks whose delay ``x`` is already observable
((2.7)-(2.9))::

    n_x = sum_t n[t, x],   N_x = sum_t sum_{y <= x} n[t, y],   g_x = n_x / N_x,

the sums over ``t <= T - x`` (and inside the moving window, below). The delay
distribution follows as ``F(d) = prod_{x=d+1}^{D} (1 - g_x)``, ``F(D) = 1``, and the
nowcast is ``N_t = N_t(T) / F(T - t)`` (2.12), ``N_t(T)`` the count reported by now.
Its prediction variance is (2.15), (2.16)::

    Var(F) = F^2 sum_{x=T-t+1}^{D} g_x / (N_x (1 - g_x))
    V_t    = N(N + 1) / F^4 Var(F)  +  N (1 - F) / F^2,     N = N_t(T), F = F(T - t),

the first term for the estimated delay distribution, the second for the cases still to
be reported (Poisson). The interval is that of a normal with mean ``N_t`` and variance
``V_t``, censored at ``N_t(T)`` (a week cannot end with fewer cases than it has), on
whole numbers: the bounds are the smallest counts whose distribution function exceeds
``(1 - level) / 2`` and ``(1 + level) / 2``.

This module mirrors ``surveillance::nowcast(method = "lawless")`` and
``method = "bayes.notrunc.bnb"`` of the R package surveillance 1.20.3 (Höhle & an der
Heiden 2014, *Biometrics* 70:993), and follows its choices:

- **The triangle** is R's: onset weeks from ``start`` to ``now``, delays ``0..D``;
  :meth:`ReportingTriangle.from_cells` drops reports after ``now`` and onsets before
  ``start``, and folds delays longer than ``D`` into delay ``D``, as R does.
- **The moving window** ``m`` is R's default interpretation (``m.interpretation =
  "hoehle_anderheiden2014"``): only onset weeks ``now - m .. now`` enter the hazards, a
  horizontal cut of the triangle; ``None`` is R's ``m = NULL``, every onset week. (R
  also offers Lawless's own window, the ``m + 1`` latest onset weeks for each delay, and
  warns that the default is not Lawless's; it is not offered here.)
- **Empty hazards**: a delay with ``N_x = 0`` gets ``g_x = 0``, R's ``NA -> 0``.
- **The point estimate** is R's ``Nhat.tT1`` and the delay distribution R's
  ``delayCDF$lawless``, to rounding (the reference tests compare them at 1e-8).

It deviates from R 1.20.3 in the interval, where ``nowcast.R`` has two slips:

1. (2.16) is written over two lines with the ``+`` opening the second, so R evaluates
   two statements and keeps the second: R's variance is ``N (1 - F) / F^2`` alone,
   without the uncertainty of the estimated delay distribution.
2. Its "left truncated normal" CDF is ``Phi(x) / (1 - Phi(a))`` instead of the censored
   ``Phi(x)`` its comment describes ("all mass below actual observation is put to
   observation") or the truncated ``(Phi(x) - Phi(a)) / (1 - Phi(a))``: it exceeds 1,
   so its quantiles sit too low.

Both make R's interval too narrow. In simulations (delays 0..4 weeks with probabilities
0.3, 0.3, 0.2, 0.12, 0.08, 8 to 40 weeks of history, Poisson counts, 2000 replicates
each) R's 95% interval covered the final
count of each of the 4 latest weeks in 80-94% of the replicates with 10 cases a week and
in 91-96% with 40 to 150; the interval of this module in 91-99% and 94-98% (it is a
normal approximation on whole numbers: with few cases it is conservative for the weeks
nearly complete and short for the latest week).
``interval="lawless"`` (the default) is the interval R's code means to give;
``interval="surveillance"`` reproduces R 1.20.3's bounds to the integer (the reference
tests hold both). R's predictive distribution lives on ``0..N.tInf.max`` (300 by
default) and its bounds drop to 0 when a quantile lies beyond; here the support is
unbounded.

**Bayesian, ignoring truncation** (``method="bayes.notrunc.bnb"``, R's "fast Bayesian
procedure ignoring truncation", the one of its Bayesian methods that draws no samples,
so that R's output is deterministic; Höhle & an der Heiden 2014): the
delay distribution is Dirichlet, with the symmetric prior ``Dir(0.1, ..., 0.1)`` (R's
``gd.prior.kappa``) and the counts ``n_x`` above as if they were multinomial (the
truncation of the triangle is ignored, so long delays, seen in fewer onset weeks, are
under-weighted). The share of week ``t`` reported by now is then ``Beta(a, b)``, ``a``
the concentration of the delays ``0..T - t`` and ``b`` the rest, and with a flat prior
on ``N_t``, ``N_t - N_t(T)`` is beta negative binomial with ``N_t(T) + 1`` successes.
The estimate is its median (R's nowcast, ``upperbound``), the bounds its quantiles by
R's rule; R's bounds and medians are matched exactly. Its tail is heavy when few cases
are ever reported at short delays: R's support stops at ``N.tInf.max`` and a quantile
beyond gives 0; here the support is unbounded, and a quantile beyond ``2**53`` is
``inf``.

**Unknown cells** (``NaN`` in the observable part of the triangle; R has none): an
onset week with an unknown cell has an unknown reported count, so its nowcast is
``NaN``; it enters the hazard of delay ``x`` only if its cells ``0..x`` are known.

**Limits of Lawless's method** (not of the code): a week with nothing reported is
nowcast as 0 with no uncertainty, whatever ``F``; a week whose ``F`` is 0 (no case of
the estimation weeks was ever reported that fast) cannot be nowcast and is ``NaN``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import gammaln, ndtr, ndtri
from scipy.stats import betabinom

from perron.protocol.errors import InputError
from perron.surveillance.weeks import IsoWeek

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

METHODS = ("lawless", "bayes.notrunc.bnb")
INTERVALS = ("lawless", "surveillance")

#: R's ``control$gd.prior.kappa``: the symmetric Dirichlet prior of the delay distribution.
PRIOR_CONCENTRATION = 0.1

#: The predictive distribution of "bayes.notrunc.bnb" is summed term by term, as R does,
#: up to this many cases beyond the reported count; further out, its CDF is searched.
_EXACT = 1 << 16


@dataclass(frozen=True)
class ReportingTriangle:
    """Counts by onset week (rows, ``start`` to ``now``) and reporting delay (columns).

    ``counts[t, d]`` is the number of cases with onset in week ``start + t`` reported
    ``d`` weeks later; the last column, ``max_delay``, holds every case reported that
    late or later. Cells reported after ``now`` (``t + d > now - start``) are ``NaN``;
    a ``NaN`` in the observable part is an unknown count.

    Examples
    --------
    >>> start, now = IsoWeek(2024, 1), IsoWeek(2024, 3)
    >>> cells = {(start, 0): 5, (start, 1): 3, (start + 1, 0): 6, (start + 2, 0): 4}
    >>> triangle = ReportingTriangle.from_cells(cells, now=now, max_delay=1)
    >>> triangle.counts.tolist()
    [[5.0, 3.0], [6.0, 0.0], [4.0, nan]]
    >>> triangle.reported.tolist()
    [8.0, 6.0, 4.0]
    """

    start: IsoWeek
    counts: FloatArray
    now: IsoWeek

    def __init__(self, start: IsoWeek, counts: npt.ArrayLike, now: IsoWeek) -> None:
        values = np.array(counts, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
            raise InputError(
                "a reporting triangle needs a two-dimensional table of counts: one row per "
                "onset week, one column per delay 0..max_delay."
            )
        if now < start:
            raise InputError(
                f"now ({now}) is before the first onset week ({start}); the triangle runs "
                "from its first onset week to the week of the last report."
            )
        rows = now - start + 1
        if values.shape[0] != rows:
            raise InputError(
                f"the triangle has {values.shape[0]} onset weeks, but {start} to {now} are "
                f"{rows}; give one row per onset week from start to now (from_cells does)."
            )
        known = values[~np.isnan(values)]
        if np.any(known < 0) or np.any(np.isinf(known)):
            raise InputError("the counts of a reporting triangle must be finite and not negative.")
        future = ~_observable(rows, values.shape[1])
        if np.any(~np.isnan(values[future])):
            t, d = np.argwhere(future & ~np.isnan(values))[0]
            raise InputError(
                f"the cell of onset week {start + int(t)} at delay {int(d)} holds a count, but "
                f"it is reported after now ({now}); leave it NaN, or build the triangle with "
                "from_cells, which drops reports after now as R's nowcast does."
            )
        values.setflags(write=False)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "counts", values)
        object.__setattr__(self, "now", now)

    @classmethod
    def from_cells(
        cls,
        cells: Mapping[tuple[IsoWeek, int], float],
        *,
        now: IsoWeek,
        max_delay: int,
        start: IsoWeek | None = None,
    ) -> ReportingTriangle:
        """The triangle of counts given by ``(onset week, delay) -> count``.

        As R's ``nowcast`` builds it: a cell reported after ``now`` is not known yet and
        is dropped, so the same cells can be nowcast at several past weeks; a cell with
        its onset before ``start`` is dropped; delays longer than ``max_delay`` are
        added to delay ``max_delay``; observable cells that are not given are 0.

        Parameters
        ----------
        cells
            Counts by onset week and delay in weeks (``NaN`` for an unknown count).
        now
            The week of the last report.
        max_delay
            The longest delay modelled, ``D``.
        start
            The first onset week; ``None`` is the earliest onset week in ``cells``.

        Raises
        ------
        InputError
            For a negative delay or count, a negative ``max_delay``, no cells and no
            ``start``, or ``now`` before ``start``.

        Examples
        --------
        >>> w = IsoWeek(2024, 10)
        >>> cells = {(w, 0): 2, (w, 3): 1, (w + 1, 0): 4, (w + 1, 2): 7}
        >>> ReportingTriangle.from_cells(cells, now=w + 3, max_delay=1).counts.tolist()
        [[2.0, 1.0], [4.0, 7.0], [0.0, 0.0], [0.0, nan]]
        """
        if max_delay < 0:
            raise InputError(f"max_delay must be 0 or more weeks (got {max_delay}).")
        if start is None:
            if not cells:
                raise InputError("no cells, so no first onset week: give cells or a start.")
            start = min(week for week, _ in cells)
        if now < start:
            raise InputError(
                f"now ({now}) is before the first onset week ({start}); the triangle runs "
                "from its first onset week to the week of the last report."
            )
        last = now - start
        counts = np.zeros((last + 1, max_delay + 1))
        counts[~_observable(last + 1, max_delay + 1)] = np.nan
        for (week, delay), value in cells.items():
            count = float(value)
            if delay < 0:
                raise InputError(
                    f"the cell of onset week {week} has delay {delay}: a case cannot be "
                    "reported before its onset; check the onset and report dates."
                )
            if count < 0 or math.isinf(count):
                raise InputError(
                    f"the cell of onset week {week} at delay {delay} holds {count}; counts "
                    "must be finite and not negative."
                )
            t = week - start
            if t < 0 or t + delay > last:
                continue  # before start, or reported after now: not in R's triangle
            counts[t, min(delay, max_delay)] += count
        return cls(start, counts, now)

    @property
    def max_delay(self) -> int:
        return int(self.counts.shape[1]) - 1

    @property
    def weeks(self) -> tuple[IsoWeek, ...]:
        """The onset weeks of the rows."""
        return tuple(self.start + t for t in range(self.counts.shape[0]))

    @property
    def observable(self) -> BoolArray:
        """Cells reported by ``now``: ``t + d <= now - start``."""
        return _observable(*self.counts.shape)

    @property
    def reported(self) -> FloatArray:
        """Cases of each onset week reported by ``now`` (``NaN`` if a cell is unknown)."""
        # An unknown observable cell (NaN) makes the row's sum NaN.
        return np.asarray(np.where(self.observable, self.counts, 0.0).sum(axis=1))


@dataclass(frozen=True)
class Nowcast:
    """The nowcast of each onset week, with its prediction interval.

    Arrays are aligned with :attr:`weeks`. ``reported`` is the count known at ``now``,
    ``estimate`` the nowcast of the final count, ``lower`` and ``upper`` the bounds of
    the ``level`` prediction interval (whole numbers, never below ``reported``).
    ``delay_distribution`` is the estimated probability of each delay ``0..max_delay``
    (its cumulative sum is R's ``delayCDF``). ``parameters`` holds ``max_delay``,
    ``moving_window`` and the method's own (see :func:`nowcast`).
    """

    weeks: tuple[IsoWeek, ...]
    reported: FloatArray
    estimate: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    method: str
    delay_distribution: FloatArray
    parameters: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.weeks)
        for name in ("reported", "estimate", "lower", "upper"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Nowcast.{name} has {len(getattr(self, name))} values, not {n}")

    def to_frame(self) -> pd.DataFrame:
        """One row per onset week."""
        return pd.DataFrame(
            {
                "reported": self.reported,
                "estimate": self.estimate,
                "lower": self.lower,
                "upper": self.upper,
            },
            index=pd.Index([str(w) for w in self.weeks], name="week"),
        )

    def __str__(self) -> str:
        last = len(self.weeks) - 1
        return (
            f"{self.method} nowcast of {len(self.weeks)} weeks; {self.weeks[last]}: "
            f"{self.reported[last]:g} reported, {self.estimate[last]:.1f} expected "
            f"[{self.lower[last]:g}, {self.upper[last]:g}] ({self.level:.0%})"
        )


def nowcast(
    triangle: ReportingTriangle,
    *,
    method: str = "lawless",
    weeks: int | None = None,
    level: float = 0.95,
    moving_window: int | None = None,
    interval: str = "lawless",
) -> Nowcast:
    """Nowcast the onset weeks of a reporting triangle, as ``surveillance::nowcast``.

    Parameters
    ----------
    triangle
        The counts by onset week and delay known at ``triangle.now``.
    method
        ``"lawless"``: the reverse-time hazard (chain-ladder) estimate of Lawless (1994);
        ``"bayes.notrunc.bnb"``: R's Bayesian nowcast that ignores truncation, with
        beta-negative-binomial predictive distributions (see the module docstring).
    weeks
        Nowcast the last ``weeks`` onset weeks (up to ``now``); ``None`` is every
        onset week of the triangle.
    level
        The coverage of the prediction interval (R's ``1 - alpha``).
    moving_window
        Estimate the delay distribution from the onset weeks ``now - moving_window ..
        now`` only (R's ``m``), at least ``max_delay`` so that one onset week has every
        delay observed; ``None`` uses every onset week.
    interval
        For ``"lawless"``: ``"lawless"``, Lawless's (2.16) variance and the normal
        censored at the reported count, the interval R's code means; ``"surveillance"``,
        R 1.20.3's bounds exactly, slips included (see the module docstring). The
        interval of ``"bayes.notrunc.bnb"`` is R's, whatever this says.

    Returns
    -------
    Nowcast
        ``method`` is the method's name. ``"lawless"``: ``estimate`` is Lawless's
        (2.12), ``parameters`` holds ``interval`` and ``hazard``. ``"bayes.notrunc.bnb"``:
        ``estimate`` is the predictive median, ``parameters`` holds
        ``prior_concentration`` and ``concentration``, the posterior Dirichlet
        parameters of the delays.

    Raises
    ------
    InputError
        For an unknown method or interval, a ``level`` outside (0, 1), ``weeks``
        outside 1 to the number of onset weeks, ``max_delay`` longer than the history,
        a moving window shorter than ``max_delay`` or than 1 week, or no onset week
        with every delay observed and known.

    Examples
    --------
    >>> start = IsoWeek(2024, 1)
    >>> rows = [[30, 30, 20], [30, 30, 20], [36, 36, float("nan")], [24] + [float("nan")] * 2]
    >>> result = nowcast(ReportingTriangle(start, rows, start + 3))
    >>> result.delay_distribution.round(3).tolist()
    [0.375, 0.375, 0.25]
    >>> result.reported.tolist(), result.estimate.round(1).tolist()
    ([80.0, 80.0, 72.0, 24.0], [80.0, 80.0, 96.0, 64.0])
    >>> result.lower.tolist(), result.upper.tolist()
    ([80.0, 80.0, 82.0, 41.0], [80.0, 80.0, 111.0, 88.0])
    """
    if method not in METHODS:
        raise InputError(f"nowcast method {method!r} is unknown; use one of {', '.join(METHODS)}.")
    if interval not in INTERVALS:
        raise InputError(
            f"interval {interval!r} is unknown; use 'lawless' (Lawless 1994) or "
            "'surveillance' (R surveillance 1.20.3's bounds)."
        )
    if not 0.0 < level < 1.0:
        raise InputError(f"level must lie between 0 and 1 (got {level}); 0.95 is usual.")
    n = triangle.counts
    last, max_delay = n.shape[0] - 1, n.shape[1] - 1
    if max_delay > last:
        raise InputError(
            f"max_delay is {max_delay} weeks, longer than the history: the {last + 1} onset "
            f"weeks {triangle.start} to {triangle.now} show delays of at most {last} weeks, "
            "so the longer delays cannot be estimated (R: 'D>T'). Give a smaller max_delay "
            "or an earlier start."
        )
    count = last + 1 if weeks is None else weeks
    if not 1 <= count <= last + 1:
        raise InputError(
            f"weeks must be between 1 and the {last + 1} onset weeks of the triangle (got "
            f"{weeks}); None nowcasts every onset week."
        )
    window = last if moving_window is None else moving_window
    if window < max(1, max_delay):
        raise InputError(
            f"the moving window of {window} weeks holds no onset week with every delay up to "
            f"max_delay={max_delay} observed; give a window of at least {max(1, max_delay)} "
            "weeks, or None for every onset week."
        )

    small_n, big_n = _delay_counts(triangle, first=max(0, last - window))
    # The onset weeks nowcast, and for each the weeks T - t it has had to be reported.
    rows = slice(last + 1 - count, last + 1)
    elapsed = (last - np.arange(last + 1))[rows]
    reported = triangle.reported[rows]
    if method == "lawless":
        hazard = _hazards(small_n, big_n)
        estimate, lower, upper, cdf = _lawless(
            reported, hazard, big_n, elapsed, 1.0 - level, interval
        )
        pmf = np.diff(cdf, prepend=0.0)
        details: dict[str, object] = {"interval": interval, "hazard": hazard}
    else:
        concentration = PRIOR_CONCENTRATION + small_n
        estimate, lower, upper = _beta_negative_binomial(
            reported, concentration, elapsed, 1.0 - level
        )
        pmf = concentration / concentration.sum()
        details = {"prior_concentration": PRIOR_CONCENTRATION, "concentration": concentration}

    return Nowcast(
        weeks=triangle.weeks[rows],
        reported=reported,
        estimate=estimate,
        lower=lower,
        upper=upper,
        level=level,
        method=method,
        delay_distribution=pmf,
        parameters={"max_delay": max_delay, "moving_window": moving_window, **details},
    )


def _lawless(
    reported: FloatArray,
    hazard: FloatArray,
    big_n: FloatArray,
    elapsed: IntArray,
    alpha: float,
    interval: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Lawless's (2.12) and the bounds of (2.16); returns the estimate, bounds and ``F``."""
    max_delay = hazard.size - 1
    cdf = _cdf(hazard)
    # F(T - t) for each onset week t; 1 for the weeks whose delays are all observed.
    share = np.where(elapsed < max_delay, cdf[np.minimum(elapsed, max_delay)], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(share > 0, reported / share, np.nan)
        variance = reported * (1.0 - share) / share**2
        if interval == "lawless":
            variance += reported * (reported + 1) / share**2 * _relative_var(hazard, big_n, elapsed)
    variance = np.where(share > 0, variance, np.nan)
    lower, upper = _bounds(reported, estimate, variance, alpha, interval)
    return estimate, lower, upper, cdf


def _observable(rows: int, columns: int) -> BoolArray:
    t = np.arange(rows)[:, None]
    d = np.arange(columns)[None, :]
    return np.asarray(t + d <= rows - 1)


def _delay_counts(triangle: ReportingTriangle, first: int) -> tuple[FloatArray, FloatArray]:
    """Lawless's (2.7), (2.8): ``n_x`` and ``N_x`` over the onset weeks ``first..T - x``.

    An onset week enters delay ``x`` when its cells ``0..x`` are known; cells after
    ``now`` are NaN, so this also keeps ``t <= T - x``.
    """
    n = triangle.counts
    known = np.cumprod(~np.isnan(n), axis=1).astype(bool)
    known[:first] = False
    if not known[:, -1].any():
        raise InputError(
            f"no onset week from {triangle.start + first} on has every delay up to "
            f"{triangle.max_delay} weeks observed and known, so the delay distribution "
            "cannot be estimated; give a longer history, a smaller max_delay or a longer "
            "moving window."
        )
    cells = np.where(known, n, 0.0)
    small_n = cells.sum(axis=0)
    big_n = np.where(known, np.cumsum(cells, axis=1), 0.0).sum(axis=0)
    return small_n, big_n


def _hazards(small_n: FloatArray, big_n: FloatArray) -> FloatArray:
    """Lawless's (2.9), ``g_x = n_x / N_x``; 0 where ``N_x = 0`` (R's ``NA -> 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(big_n > 0, small_n / big_n, 0.0)
    hazard[0] = 1.0  # g(0) = 1, below Lawless's (2.1)
    return hazard


def _cdf(hazard: FloatArray) -> FloatArray:
    """``F(d) = prod_{x=d+1}^{D} (1 - g_x)``, ``d = 0..D`` (Lawless's (2.13))."""
    size = hazard.size
    return np.array([np.prod(1.0 - hazard[d + 1 :]) for d in range(size)])


def _relative_var(hazard: FloatArray, big_n: FloatArray, elapsed: IntArray) -> FloatArray:
    """``Var(F(T - t)) / F^2 = sum_{x=T-t+1}^{D} g_x / (N_x (1 - g_x))``, Lawless's (2.15).

    A delay with ``N_x = 0`` adds nothing (R's ``na.rm``); ``g_x = 1`` makes it infinite,
    but then ``F = 0`` and the week is not nowcast.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(big_n > 0, hazard / (big_n * (1.0 - hazard)), 0.0)
    tail = np.cumsum(terms[::-1])[::-1]  # tail[d] = sum_{x >= d} terms[x]
    tail = np.append(tail, 0.0)
    return np.asarray(tail[np.minimum(elapsed + 1, hazard.size)], dtype=np.float64)


def _bounds(
    reported: FloatArray, estimate: FloatArray, variance: FloatArray, alpha: float, interval: str
) -> tuple[FloatArray, FloatArray]:
    lower = np.full(reported.shape, np.nan)
    upper = np.full(reported.shape, np.nan)
    for t in range(reported.size):
        a, mu, v = float(reported[t]), float(estimate[t]), float(variance[t])
        if not (math.isfinite(mu) and math.isfinite(v)):
            continue
        if v <= 0.0:  # nothing reported, or nothing left to report: a point mass
            lower[t] = upper[t] = mu
            continue
        sigma = math.sqrt(v)
        lower[t] = _quantile(alpha / 2.0, a, mu, sigma, interval)
        upper[t] = _quantile(1.0 - alpha / 2.0, a, mu, sigma, interval)
    return lower, upper


def _quantile(p: float, a: float, mu: float, sigma: float, interval: str) -> float:
    """The smallest whole number ``k >= a`` with ``G(k) > p``, R's ``which.max(cdf > p)``.

    ``G`` is the normal CDF censored at the reported count ``a`` (``interval="lawless"``)
    or R 1.20.3's ``Phi(k) / (1 - Phi(a))`` (``"surveillance"``).
    """
    scale = 1.0 if interval == "lawless" else 1.0 - float(ndtr((a - mu) / sigma))

    def exceeds(k: int) -> bool:
        return float(ndtr((k - mu) / sigma)) / scale > p

    floor = math.ceil(a)
    # Phi((k - mu) / sigma) > p * scale  <=>  k > mu + sigma * Phi^-1(p * scale); then
    # step over the rounding of the inverse, so that the rule is R's to the last bit.
    k = max(floor, math.floor(mu + sigma * float(ndtri(p * scale))) + 1)
    while k > floor and exceeds(k - 1):
        k -= 1
    while not exceeds(k):
        k += 1
    return float(k)


def _beta_negative_binomial(
    reported: FloatArray, concentration: FloatArray, elapsed: IntArray, alpha: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The median and the bounds of ``N_t`` under R's "bayes.notrunc.bnb".

    With ``q_t``, the share of the cases of week ``t`` reported by now, distributed
    ``Beta(a, b)`` (``a`` the Dirichlet concentration of the delays ``0..T - t``, ``b``
    the rest) and a flat prior on ``N_t``, ``N_t - N_t(T)`` is beta negative binomial
    with ``N_t(T) + 1`` successes (Höhle & an der Heiden 2014).
    """
    size = reported.size
    median, lower, upper = (np.full(size, np.nan) for _ in range(3))
    total = np.cumsum(concentration)
    max_delay = concentration.size - 1
    for t in range(size):
        observed = float(reported[t])
        if math.isnan(observed):
            continue
        if elapsed[t] >= max_delay:  # every delay observed: the count is final
            median[t] = lower[t] = upper[t] = observed
            continue
        a = float(total[elapsed[t]])  # R: alpha.i <- cumsum(alpha)[T - t + 1]
        b = float(total[-1]) - a  # R: beta.i <- sum(alpha) - alpha.i
        lower[t], median[t], upper[t] = _bnb_quantiles(
            observed, a, b, (alpha / 2.0, 0.5, 1.0 - alpha / 2.0)
        )
    return median, lower, upper


def _bnb_quantiles(
    reported: float, a: float, b: float, probabilities: tuple[float, ...]
) -> list[float]:
    """``reported + k`` for the smallest ``k`` whose cumulated pmf exceeds each probability.

    R's ``which.max(cumsum(PMF) > p)`` with R's ``dbnb(k, n, alpha, beta)``::

        P(k) = G(n + a) G(k + b) G(n + k) G(a + b) / (G(n + k + a + b) G(n) G(k + 1) G(a) G(b))

    (``G`` the gamma function, ``n = reported + 1``), summed as R sums it for ``k`` below
    ``_EXACT`` (R's support is ``0..N.tInf.max``, 300 by default). Further out the CDF
    is ``P(K <= k) = P(BetaBinomial(n + k, a, b) >= n)`` (``K`` counts the failures
    before the ``n``-th success), searched by bisection; a quantile beyond ``2**53`` is
    infinite.
    """
    n = reported + 1.0
    constant = gammaln(n + a) + gammaln(a + b) - gammaln(n) - gammaln(a) - gammaln(b)
    found = [math.inf] * len(probabilities)
    pending = list(range(len(probabilities)))
    mass, first, block = 0.0, 0, 1024
    while pending and first < _EXACT:
        k = np.arange(first, first + block, dtype=np.float64)
        pmf = np.exp(
            constant + gammaln(k + b) + gammaln(n + k) - gammaln(n + k + a + b) - gammaln(k + 1)
        )
        cumulated = mass + np.cumsum(pmf)
        for i in list(pending):
            beyond = np.flatnonzero(cumulated > probabilities[i])
            if beyond.size:
                found[i] = reported + first + float(beyond[0])
                pending.remove(i)
        mass, first, block = float(cumulated[-1]), first + block, 2 * block
    if not reported.is_integer():
        return found  # the beta-binomial needs whole numbers; such tails stay infinite

    def cdf(k: int) -> float:
        return float(betabinom.sf(reported, reported + 1 + k, a, b))

    for i in pending:
        low, high = first - 1, first  # cdf(low) <= p; find the first k with cdf(k) > p
        while cdf(high) <= probabilities[i]:
            low, high = high, 2 * high
            if high > 1 << 53:
                break
        else:
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if cdf(middle) > probabilities[i] else (middle, high)
            found[i] = reported + high
    return found
