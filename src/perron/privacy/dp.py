"""Differential privacy through OpenDP: calibrated noise for counts, sums and histograms.

Every noisy release is one OpenDP measurement, built here and nowhere else:

- an OpenDP **transformation** on the station's values of one column (a vector of
  floats, complete cases) computes the aggregate: ``make_count``; ``make_clamp``
  then a bounded float sum; ``make_find_bin`` then ``make_count_by_categories``.
  Its stability map gives the aggregate's **sensitivity**: how far it can move
  when one row is added or removed (OpenDP's ``symmetric_distance`` of 1);
- the **Laplace mechanism** (``make_laplace``) adds noise of scale
  ``sensitivity / epsilon``; the measurement's privacy map gives the privacy loss
  it spends, which never exceeds the ``epsilon`` asked for (:func:`_calibrate`);
- a mean is a noisy sum and a noisy count, each with half of ``epsilon``, composed
  with OpenDP's ``make_composition`` (basic composition: the losses add up).

Security assumptions: the privacy unit is one row of the station's dataset (each
person contributes at most one row); epsilon is pure (Laplace, delta = 0); the
noise comes from OpenDP's own cryptographically secure sampler, which cannot be
seeded. Clamping bounds and bin edges are part of the query, chosen without looking
at the data. OpenDP's ``contrib`` feature flag (mechanisms whose proofs OpenDP has
not yet fully vetted) is turned on by :func:`_opendp` only, when a query is built.

Examples
--------
>>> import numpy as np
>>> query = noisy_sum((0.0, 100.0), epsilon=1.0)
>>> round(query.sensitivities[0]), round(query.scales[0])
(100, 100)
>>> query.epsilon <= 1.0
True
>>> len(query.release(np.array([20.0, 55.0, 130.0])))
1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.protocol.errors import InputError

__all__ = [
    "SIZE_LIMIT",
    "NoisyQuery",
    "check_bounds",
    "check_edges",
    "check_epsilon",
    "noisy_count",
    "noisy_histogram",
    "noisy_mean",
    "noisy_sum",
]

#: The privacy unit: one row added or removed (OpenDP's symmetric distance).
UNIT = 1
#: The largest number of rows a noisy sum adds up; OpenDP bounds the floating-point
#: rounding of the sum by it (a relative 8e-7 of the sensitivity at 2**26 rows) and
#: leaves out rows beyond it. (OpenDP's own default, 2**20, is too small for a registry.)
SIZE_LIMIT = 2**26
#: How often the scale is moved up by one ulp when rounding in OpenDP's privacy map
#: puts the loss a hair above epsilon.
_NUDGES = 64

Number = int | float
#: The rule a noisy release passes (its threshold is the privacy loss spent).
DIFFERENTIAL_PRIVACY = "differential_privacy"


def _opendp() -> ModuleType:
    """OpenDP's prelude with the ``contrib`` features on (the one place that turns them on)."""
    # Imported on first use: loading OpenDP's native library takes about a second.
    import opendp.prelude as dp  # noqa: PLC0415

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True)
class NoisyQuery:
    """One calibrated OpenDP measurement on a vector of floats, and its accounting.

    ``sensitivities`` and ``scales`` have one entry per released number (a mean
    releases a sum and a count; a histogram one count per bin); ``epsilon`` is the
    privacy loss OpenDP's privacy map gives for one row added or removed.
    """

    measurement: Any
    sensitivities: tuple[float, ...]
    scales: tuple[float, ...]
    epsilon: float

    def release(self, values: npt.NDArray[np.float64]) -> list[Number]:
        """Run the measurement on the station's values: the noisy numbers, as a list.

        ``values`` are the complete (non-missing) values of one column.
        """
        out = self.measurement(np.asarray(values, dtype=np.float64))
        items = out if isinstance(out, list) else [out]
        return [int(v) if isinstance(v, int) else float(v) for v in items]


def check_epsilon(epsilon: object) -> float:
    """The privacy loss a query spends: a positive, finite number.

    Raises
    ------
    InputError
        ``epsilon`` is not a number, or not positive and finite.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InputError(
            f"epsilon = {epsilon!r} is not a number; a noisy release needs the privacy "
            "loss to spend, e.g. epsilon=0.5."
        )
    if not 0 < epsilon < math.inf:
        raise InputError(
            f"epsilon = {epsilon!r} is not a positive, finite privacy loss; pass e.g. "
            "epsilon=0.5 (smaller means more noise)."
        )
    return float(epsilon)


def check_bounds(bounds: Sequence[float]) -> tuple[float, float]:
    """Clamping bounds ``(lower, upper)``: two finite numbers, lower below upper.

    Raises
    ------
    InputError
        The bounds are missing or not two increasing finite numbers.
    """
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(
            f"bounds {bounds!r} are not two numbers (lower, upper); a noisy sum or mean "
            "needs clamping bounds, chosen without looking at the data, e.g. (0, 120)."
        ) from None
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise InputError(
            f"bounds ({lower:g}, {upper:g}) must be finite with lower below upper; values "
            "outside them are clamped to the nearest bound."
        )
    return lower, upper


def check_edges(edges: Sequence[float]) -> tuple[float, ...]:
    """Histogram bin edges: at least two finite, increasing numbers.

    Raises
    ------
    InputError
        The edges are not at least two increasing finite numbers.
    """
    try:
        array = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"histogram edges {edges!r} are not numbers.") from None
    if (
        array.ndim != 1
        or array.size < 2
        or not np.all(np.isfinite(array))
        or not np.all(np.diff(array) > 0)
    ):
        raise InputError("histogram edges must be at least two increasing finite numbers.")
    return tuple(float(e) for e in array)


def _calibrate(
    build: Callable[[float], Any], sensitivities: Sequence[float], epsilon: float
) -> tuple[Any, float, float]:
    """The measurement ``build(factor)`` with the smallest factor >= 1 whose loss <= epsilon.

    ``build(1.0)`` uses scale = sensitivity / epsilon for each part; floating-point
    rounding in OpenDP's privacy map can put its loss one ulp above epsilon, so the
    factor moves up by ulps until the map says the loss is within epsilon.

    Returns
    -------
    tuple
        The measurement, the factor and the privacy loss from OpenDP's map.
    """
    factor = 1.0
    for _ in range(_NUDGES):
        measurement = build(factor)
        loss = float(measurement.map(UNIT))
        if loss <= epsilon:
            return measurement, factor, loss
        factor = math.nextafter(factor, math.inf)
    raise InputError(  # pragma: no cover - OpenDP's rounding is within a few ulps
        f"OpenDP puts the privacy loss of this query above epsilon = {epsilon:g} for "
        f"sensitivities {list(sensitivities)}; use a larger epsilon."
    )


def _values(dp: ModuleType) -> tuple[Any, Any]:
    """The input space: vectors of non-missing floats; neighbours differ by one row."""
    return (
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.symmetric_distance(),
    )


def _count(dp: ModuleType) -> Any:
    return dp.t.make_count(*_values(dp))


def _clamped_sum(dp: ModuleType, bounds: tuple[float, float]) -> Any:
    return _values(dp) >> dp.t.then_clamp(bounds) >> _float_sum(dp, bounds)


def _float_sum(dp: ModuleType, bounds: tuple[float, float]) -> Any:
    return dp.t.make_bounded_float_checked_sum(SIZE_LIMIT, bounds)


def _single(transformation: Any, epsilon: float, outputs: int, dp: ModuleType) -> NoisyQuery:
    sensitivity = float(transformation.map(UNIT))
    scale = sensitivity / epsilon

    def build(factor: float) -> Any:
        return transformation >> dp.m.then_laplace(scale * factor)

    measurement, factor, loss = _calibrate(build, [sensitivity], epsilon)
    return NoisyQuery(measurement, (sensitivity,) * outputs, (scale * factor,) * outputs, loss)


def _guarded(make: Callable[[ModuleType], NoisyQuery]) -> NoisyQuery:
    """``make(dp)``, with OpenDP's refusal of the query's parameters as an InputError."""
    dp = _opendp()
    try:
        return make(dp)
    except dp.OpenDPException as error:
        raise InputError(
            f"OpenDP cannot calibrate this query ({' '.join(str(error).split())}); choose "
            "narrower bounds or another epsilon."
        ) from None


def noisy_count(epsilon: float) -> NoisyQuery:
    """The number of values plus Laplace noise (integer, OpenDP's discrete Laplace).

    Sensitivity 1: one row more or less changes the count by one.
    """
    epsilon = check_epsilon(epsilon)
    return _guarded(lambda dp: _single(_count(dp), epsilon, 1, dp))


def noisy_sum(bounds: Sequence[float], epsilon: float) -> NoisyQuery:
    """The sum of the values clamped to ``bounds``, plus Laplace noise.

    OpenDP bounds the sensitivity by ``max(|lower|, |upper|)`` when the bounds share
    a sign and by ``upper - lower`` otherwise, plus a tiny term for the
    floating-point rounding of a sum of up to :data:`SIZE_LIMIT` values.
    """
    epsilon = check_epsilon(epsilon)
    clamp = check_bounds(bounds)
    return _guarded(lambda dp: _single(_clamped_sum(dp, clamp), epsilon, 1, dp))


def noisy_histogram(edges: Sequence[float], epsilon: float) -> NoisyQuery:
    """Counts below the first edge, in each bin ``[e_i, e_i+1)`` and from the last edge
    up, plus Laplace noise on each (integers; one row changes one count by one)."""
    epsilon = check_epsilon(epsilon)
    cuts = check_edges(edges)

    def make(dp: ModuleType) -> NoisyQuery:
        bins = (
            _values(dp)
            >> dp.t.then_find_bin(edges=list(cuts))
            >> dp.t.then_count_by_categories(
                categories=list(range(len(cuts) + 1)), null_category=False
            )
        )
        return _single(bins, epsilon, len(cuts) + 1, dp)

    return _guarded(make)


def noisy_mean(bounds: Sequence[float], epsilon: float) -> NoisyQuery:
    """A noisy clamped sum and a noisy count (half of ``epsilon`` each), composed.

    The mean is their ratio, computed by whoever combines the releases.
    """
    epsilon = check_epsilon(epsilon)
    clamp = check_bounds(bounds)

    def make(dp: ModuleType) -> NoisyQuery:
        total, count = _clamped_sum(dp, clamp), _count(dp)
        sensitivities = (float(total.map(UNIT)), float(count.map(UNIT)))
        scales = tuple(s / (epsilon / 2) for s in sensitivities)

        def build(factor: float) -> Any:
            return dp.c.make_composition(
                [
                    total >> dp.m.then_laplace(scales[0] * factor),
                    count >> dp.m.then_laplace(scales[1] * factor),
                ]
            )

        measurement, factor, loss = _calibrate(build, sensitivities, epsilon)
        return NoisyQuery(measurement, sensitivities, tuple(s * factor for s in scales), loss)

    return _guarded(make)
