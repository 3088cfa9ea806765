"""Differentially private gradient steps at a station, through OpenDP.

Each gradient step of a station's local training (:func:`perron.learning.local.local_train`)
releases, inside the station, the sum of its rows' gradients. Under differential
privacy each row's gradient is first clipped to L1 norm at most ``clip``, so adding
or removing one row moves the sum by at most ``clip`` in L1 norm (the sensitivity),
and OpenDP's vector Laplace mechanism (``make_laplace`` on a vector of floats with
the ``l1_distance`` metric) adds independent Laplace noise of scale
``clip / epsilon_step`` to every coordinate. OpenDP's privacy map at the input
distance ``clip`` gives the loss of one step, which never exceeds ``epsilon_step``
(the scale moves up by ulps where rounding puts it a hair above).

A round of ``s`` steps spends ``s * epsilon_step`` by basic composition (no
parallel composition over mini-batches: they are drawn by position, not by a
property of the row); the station divides the round's ``epsilon`` by its own number
of steps, so every station spends exactly the round's ``epsilon``, and the updated
weights it releases are post-processing of the noisy steps. Over ``R`` rounds a
station spends ``R * epsilon`` (what its budget ledger records, one task per round).

Why Laplace and L1 clipping rather than Gaussian noise and L2 clipping (DP-SGD):
pure epsilon-DP composes by adding epsilons, which is what the station's budget
ledger (:meth:`perron.station.governance.Governor.budget`) and the study policy
count; Gaussian noise needs a delta and zCDP accounting. For the models here (tens
to a few hundred weights) the price in noise is moderate.

Security assumptions: one row per person (the privacy unit is a row); the clip, the
learning rate, batch size and epochs are chosen without looking at the data; the
number of training rows per station is released exactly (in the prepare round, as
every Perron analysis does, under the holder's minimum-rows rule), and so are the
categorical levels and, with standardisation, the column means and standard
deviations: differential privacy covers the training rounds, not that preparation.
The noise comes from OpenDP's own cryptographically secure sampler.

Examples
--------
>>> import numpy as np
>>> noise = GradientNoise.calibrate(clip=1.0, epsilon=0.5, dimension=3)
>>> noise.scale
2.0
>>> noise.epsilon <= 0.5
True
>>> noise.release(np.zeros((10, 3))).shape
(3,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from perron.protocol.errors import InputError

FloatArray = npt.NDArray[np.float64]

#: How often the scale moves up by one ulp when OpenDP's map puts the loss a hair
#: above epsilon.
_NUDGES = 64


def _opendp() -> ModuleType:
    # Imported on first use: loading OpenDP's native library takes about a second.
    import opendp.prelude as dp  # noqa: PLC0415

    dp.enable_features("contrib")
    return dp


def clip_rows(gradients: FloatArray, clip: float) -> FloatArray:
    """Each row scaled down to L1 norm at most ``clip`` (rows within it are unchanged)."""
    norms = np.abs(gradients).sum(axis=1)
    factors = np.minimum(1.0, clip / np.maximum(norms, np.finfo(np.float64).tiny))
    clipped: FloatArray = gradients * factors[:, None]
    return clipped


@dataclass(frozen=True)
class GradientNoise:
    """OpenDP's Laplace mechanism on a summed, row-clipped gradient of ``dimension``
    coordinates: noise of ``scale`` per coordinate, privacy loss ``epsilon`` per use."""

    clip: float
    scale: float
    epsilon: float
    dimension: int
    measurement: Any

    @classmethod
    def calibrate(cls, clip: float, epsilon: float, dimension: int) -> GradientNoise:
        """The mechanism with scale ``clip / epsilon`` (nudged up by ulps if needed).

        Raises
        ------
        InputError
            ``clip`` or ``epsilon`` is not a positive finite number.
        """
        for name, value in (("clip", clip), ("epsilon", epsilon)):
            if not (isinstance(value, int | float) and 0 < value < math.inf):
                raise InputError(
                    f"{name} = {value!r} must be a positive finite number for differentially "
                    "private training."
                )
        dp = _opendp()
        space = dp.vector_domain(dp.atom_domain(T=float, nan=False), size=dimension)
        metric = dp.l1_distance(T=float)
        scale = clip / epsilon
        for _ in range(_NUDGES):
            measurement = dp.m.make_laplace(space, metric, scale)
            loss = float(measurement.map(float(clip)))
            if loss <= epsilon:
                return cls(float(clip), scale, loss, dimension, measurement)
            scale = math.nextafter(scale, math.inf)
        raise InputError(  # pragma: no cover - OpenDP's rounding is within a few ulps
            f"OpenDP puts the loss of a noisy gradient above epsilon = {epsilon:g}; "
            "use a larger epsilon."
        )

    def release(self, row_gradients: FloatArray) -> FloatArray:
        """The sum of the clipped row gradients plus Laplace noise (OpenDP's sampler)."""
        total = clip_rows(row_gradients, self.clip).sum(axis=0)
        noisy = self.measurement([float(v) for v in total])
        return np.asarray(noisy, dtype=np.float64)
