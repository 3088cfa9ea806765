"""Vertical linear and logistic regression among two holders and a helper, on MPyC.

Party 0 (holder A) has the outcome and its columns (plus the intercept), party 1
(holder B) has its columns for the same patients in the same order, party 2 (the
helper) has no data. Every party runs the same coroutine; the holders also compute
on their own rows in the clear (:mod:`perron.mpc.local`). The number format and the
security model are in :mod:`perron.mpc.fixed`.

Linear regression (one pass)
    In whitened coordinates the Gram matrix is ``M = [[I, C], [C', I]]``; only the
    cross products ``C = Z_a' Z_b / n`` and ``Z_b' y / n`` need MPC (``Z_a' y`` and
    ``y' y`` are holder A's own). ``theta = M^-1 u`` by Newton-Schulz iteration on
    shares; the coefficients ``T theta``, the residual variance and
    ``T M^-1 T' / n`` are opened to the holders.

Logistic regression (Newton-Raphson = IRLS)
    Per iteration each holder computes its part of the linear predictor,
    ``eta_h = Z_h theta_h``, in the clear from its own coefficient block; the
    probabilities ``mu = sigmoid(eta_a + eta_b)`` are computed on shares with the
    separable Fourier series of :mod:`perron.mpc.sigmoid` (one secure inner product
    per row); then ``g = Z'(y - mu)``, ``H = Z' diag(mu (1 - mu)) Z`` and the Newton
    step ``H^-1 g`` on shares. Only each holder's own block of ``theta`` is opened,
    to that holder alone; the first iteration starts at ``theta = 0``
    (``mu = 1/2``).

Matrix inverse
    Newton-Schulz, ``X <- X (2I - M X)``, needs only products and truncations; it
    starts from the previous iteration's inverse when that is close enough (one
    opened bit says so) and from ``c I`` otherwise (``c = 1`` for ``M = Z'Z/n``,
    ``c = 4`` for ``Z'WZ/n``, whose eigenvalues are below 1/2 since ``w <= 1/4``).
    It stops when ``||I - M X||_F^2 < 2^-30`` (one opened bit per step).

What each party learns in the clear is listed in :func:`learned_by`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perron.mpc.fixed import Context, Fx
from perron.mpc.local import HolderDesign
from perron.mpc.spec import HELPER, VerticalSpec
from perron.protocol.errors import ConvergenceFailed, SingularDesign

__all__ = ["FitOutput", "Sizes", "fit", "learned_by"]

FloatArray = npt.NDArray[np.float64]

#: Binary scales (fractional bits) of the quantities on shares.
Z_SCALE = 30  # whitened columns and the outcome
TERM_SCALE = 30  # the holders' Fourier factors
MU_SCALE = 32  # probabilities, residuals and weights
M_SCALE = 40  # Gram matrices, their inverses, gradients and coefficients
T_SCALE = 40  # the holders' back-transforms
_DIVIDE_BITS = 60  # 1/n as round(2**60 / n) / 2**60

#: Newton-Schulz stops below this squared residual; a warm start needs 1/4.
_NS_TOLERANCE = 2.0**-30
_NS_WARM = 0.25
_NS_MAX_STEPS = 40
_MAX_TRACE = 1e8  # of M^-1, with M scaled to unit diagonal (linear) or below (logistic)


@dataclass(frozen=True)
class Sizes:
    """The public sizes: rows and coefficients per holder."""

    rows: int
    width_a: int
    width_b: int

    @property
    def width(self) -> int:
        """All coefficients."""
        return self.width_a + self.width_b


@dataclass
class FitOutput:
    """What a holder takes home (the helper's copy has no numbers).

    Attributes
    ----------
    params : ndarray or None
        Coefficients in the order of ``spec.names`` (holders only).
    cov : ndarray or None
        Their covariance matrix (holders only).
    scale : float
        Residual variance (linear) or 1 (logistic).
    iterations : int
        Newton iterations (0 for the linear model).
    seconds : list of float
        Wall time per iteration (the linear model: one entry).
    """

    params: FloatArray | None
    cov: FloatArray | None
    scale: float
    iterations: int
    seconds: list[float] = field(default_factory=list)


def learned_by(party: int, spec: VerticalSpec) -> list[str]:
    """What ``party`` learns in the clear, by design (documentation and tests).

    Examples
    --------
    >>> spec = VerticalSpec("binomial", "y", (("a",), ("b",)))
    >>> learned_by(2, spec)[0]
    'the public spec and sizes: rows, and columns per holder'
    """
    common = [
        "the public spec and sizes: rows, and columns per holder",
        "whether each party is ready, and the digest of the sorted pseudonyms",
        "the number of Newton-Schulz steps (one convergence bit per step, and per "
        "inverse one bit each for the warm start and for trace(M^-1) < 1e8)",
    ]
    if spec.family == "binomial":
        common.append("the number of Newton iterations (one convergence bit per holder each)")
    if party == HELPER:
        return common
    own = ["its own block of whitened coefficients after each Newton iteration"]
    final = ["the final coefficients, their covariance matrix and (linear) residual variance"]
    return common + (own if spec.family == "binomial" else []) + final


# --------------------------------------------------------------------------------------
# Building blocks on shares
# --------------------------------------------------------------------------------------


async def _divide_by_rows(ctx: Context, value: Fx, rows: int) -> Fx:
    """``value / rows`` at :data:`M_SCALE` (``rows`` is public)."""
    base = await ctx.rescale(value, min(value.scale, 60))
    factor = round(2**_DIVIDE_BITS / rows)
    return await ctx.rescale(Fx(base.share * factor, base.scale + _DIVIDE_BITS), M_SCALE)


async def _squared_norm_below(ctx: Context, value: Fx, threshold: float, label: str) -> bool:
    flat = value.reshape(-1)
    square = Fx(flat.share @ flat.share, 2 * flat.scale)
    return await ctx.below(square, threshold, label)


async def _inverse(ctx: Context, m: Fx, start: Fx | None, scale_guess: int) -> Fx:
    """``M^-1`` for a symmetric positive definite ``M`` (Newton-Schulz on shares)."""
    size = m.shape[0]
    eye = ctx.constant(np.eye(size), M_SCALE)

    async def residual(x: Fx) -> Fx:
        return eye - await ctx.rescale(m @ x, M_SCALE)

    x = ctx.constant(scale_guess * np.eye(size), M_SCALE)
    if start is not None:
        error = await residual(start)
        if await _squared_norm_below(ctx, error, _NS_WARM, "inverse: warm-start bit"):
            x = start
    for _ in range(_NS_MAX_STEPS):
        error = await residual(x)
        done = await _squared_norm_below(ctx, error, _NS_TOLERANCE, "inverse: convergence bit")
        x = x + await ctx.rescale(x @ error, M_SCALE)
        if done:
            # trace(M^-1) >= 1 / lambda_min: a tiny eigenvalue is collinearity.
            trace = Fx(np.sum(x.share * np.eye(size, dtype=np.int64)), x.scale)
            if await ctx.below(trace, _MAX_TRACE, "inverse: conditioning bit"):
                return x
            break
    raise SingularDesign(
        "the weighted Gram matrix is (nearly) singular across the holders: a column of "
        "one holder is (almost) a combination of the other's columns. Drop one of them."
    )


def _concat(parts: list[Fx], axis: int) -> Fx:
    scale = parts[0].scale
    if any(p.scale != scale for p in parts):
        raise ValueError("concatenate arrays of one scale")
    return Fx(np.concatenate([p.share for p in parts], axis=axis), scale)


async def _publish(
    ctx: Context, design: HolderDesign | None, sizes: Sizes, theta: Fx, inverse: Fx
) -> tuple[FloatArray | None, FloatArray | None]:
    """The final coefficients and ``T M^-1 T'``, for the two holders only.

    Each holder opens its own block of ``theta`` and turns it into its coefficients
    with its own transform, in the clear (full float precision); the holders then
    swap their blocks. ``T M^-1 T'`` mixes both transforms, so it is computed on
    shares, each holder inputting its block of ``T``.
    """
    width_a, width = sizes.width_a, sizes.width
    blocks = ((0, width_a), (width_a, width))
    own: FloatArray | None = None
    for party, (start, stop) in enumerate(blocks):
        opened = await ctx.reveal(theta[start:stop], [party], "own coefficient block, final")
        if opened is not None and design is not None:
            own = design.transform @ opened
    swapped = await ctx.exchange(None if own is None else own.tolist(), "final coefficients")
    params = None if swapped is None else np.concatenate([np.asarray(b) for b in swapped])
    parts = []
    for party, (start, stop) in enumerate(blocks):
        full = None
        if ctx.pid == party and design is not None:
            full = np.zeros((width, width))
            full[start:stop, start:stop] = design.transform
        parts.append(ctx.input(full, party, (width, width), T_SCALE))
    transform = parts[0] + parts[1]
    half = await ctx.rescale(transform @ inverse, M_SCALE)
    sandwich = await ctx.rescale(half @ transform.T, M_SCALE)
    core = await ctx.reveal(sandwich, [0, 1], "final covariance")
    return params, core


def _own_z(ctx: Context, design: HolderDesign | None, sizes: Sizes) -> tuple[Fx, Fx]:
    z_a = design.z if ctx.pid == 0 and design is not None else None
    z_b = design.z if ctx.pid == 1 and design is not None else None
    return (
        ctx.input(z_a, 0, (sizes.rows, sizes.width_a), Z_SCALE),
        ctx.input(z_b, 1, (sizes.rows, sizes.width_b), Z_SCALE),
    )


# --------------------------------------------------------------------------------------
# The two models
# --------------------------------------------------------------------------------------


async def _linear(ctx: Context, design: HolderDesign | None, sizes: Sizes) -> FitOutput:
    started = time.perf_counter()
    n = sizes.rows
    z_a, z_b = _own_z(ctx, design, sizes)
    y_plain = design.outcome if ctx.pid == 0 and design is not None else None
    y = ctx.input(y_plain, 0, (n,), Z_SCALE)
    # Holder A's own blocks, in the clear: Z_a'y / n and y'y / n.
    own = None
    if y_plain is not None and design is not None:
        own = np.append(design.z.T @ y_plain / n, y_plain @ y_plain / n)
    u_own = ctx.input(own, 0, (sizes.width_a + 1,), M_SCALE)
    u_a, yy = u_own[: sizes.width_a], u_own[sizes.width_a :]
    cross = await _divide_by_rows(ctx, z_a.T @ z_b, n)
    u_b = await _divide_by_rows(ctx, z_b.T @ y, n)
    eye_a = ctx.constant(np.eye(sizes.width_a), M_SCALE)
    eye_b = ctx.constant(np.eye(sizes.width_b), M_SCALE)
    gram = _concat([_concat([eye_a, cross], 1), _concat([cross.T, eye_b], 1)], 0)
    u = _concat([u_a, u_b], 0)
    inverse = await _inverse(ctx, gram, None, 1)
    theta = await ctx.rescale(inverse @ u, M_SCALE)
    fitted = await ctx.rescale(u.reshape(1, sizes.width) @ theta, M_SCALE)
    rss = (yy - fitted).times(n)  # residual sum of squares
    scale = await ctx.reveal(rss, [0, 1], "residual sum of squares")
    params, core = await _publish(ctx, design, sizes, theta, inverse)
    sigma2 = float(scale[0]) / (n - sizes.width) if scale is not None else float("nan")
    cov = None if core is None else core * sigma2 / n
    return FitOutput(params, cov, sigma2, 0, [time.perf_counter() - started])


async def _logistic(
    ctx: Context, spec: VerticalSpec, design: HolderDesign | None, sizes: Sizes
) -> FitOutput:
    n, width, width_a = sizes.rows, sizes.width, sizes.width_a
    sigmoid = spec.sigmoid
    terms = 2 * sigmoid.harmonics
    z_a, z_b = _own_z(ctx, design, sizes)
    z = _concat([z_a, z_b], 1)
    y_plain = design.outcome if ctx.pid == 0 and design is not None else None
    y = ctx.input(y_plain, 0, (n,), MU_SCALE)
    one = ctx.constant(np.ones(n), MU_SCALE)
    half = ctx.constant(np.full(n, 0.5), MU_SCALE)
    own_block = (0, width_a) if ctx.pid == 0 else (width_a, width)
    theta_plain = np.zeros(own_block[1] - own_block[0])
    theta = ctx.constant(np.zeros(width), M_SCALE)
    inverse: Fx | None = None
    seconds: list[float] = []
    for iteration in range(1, spec.max_iter + 1):
        started = time.perf_counter()
        if iteration == 1:
            mu = half  # theta = 0: every probability is 1/2, publicly
        else:
            factors_a = factors_b = None
            if design is not None and ctx.pid == 0:
                factors_a = sigmoid.holder_a_terms(design.z @ theta_plain)
            if design is not None and ctx.pid == 1:
                factors_b = sigmoid.holder_b_terms(design.z @ theta_plain)
            f_a = ctx.input(factors_a, 0, (n, terms), TERM_SCALE)
            f_b = ctx.input(factors_b, 1, (n, terms), TERM_SCALE)
            products = f_a.reshape(n, 1, terms) @ f_b.reshape(n, terms, 1)
            mu = half + await ctx.rescale(products.reshape(n), MU_SCALE)
        weights = await ctx.rescale(mu * (one - mu), MU_SCALE)
        hessian = z.T @ (z * weights.reshape(n, 1))
        gradient = z.T @ (y - mu)
        m = await _divide_by_rows(ctx, hessian, n)
        v = await _divide_by_rows(ctx, gradient, n)
        inverse = await _inverse(ctx, m, inverse, 4)
        step = await ctx.rescale(inverse @ v, M_SCALE)
        theta = theta + step
        opened = {}
        for party, (start, stop) in enumerate(((0, width_a), (width_a, width))):
            label = f"own coefficient block, iteration {iteration}"
            opened[party] = await ctx.reveal(theta[start:stop], [party], label)
        converged = True
        if ctx.pid in opened and opened[ctx.pid] is not None:
            new = np.asarray(opened[ctx.pid])
            converged = bool(np.max(np.abs(new - theta_plain)) < spec.tol)
            theta_plain = new
        votes = await ctx.share_public(converged, f"convergence votes, iteration {iteration}")
        seconds.append(time.perf_counter() - started)
        if all(votes):
            params, core = await _publish(ctx, design, sizes, theta, inverse)
            cov = None if core is None else core / n
            return FitOutput(params, cov, 1.0, iteration, seconds)
    raise ConvergenceFailed(
        f"the logistic model did not converge in {spec.max_iter} Newton iterations. "
        "Suspicion is (quasi-)complete separation: an outcome class predicted exactly "
        "by some columns; check cross tables, drop or merge categories."
    )


async def fit(
    ctx: Context, spec: VerticalSpec, design: HolderDesign | None, sizes: Sizes
) -> FitOutput:
    """Run ``spec`` on shares; holders pass their design, the helper None."""
    if spec.family == "gaussian":
        return await _linear(ctx, design, sizes)
    return await _logistic(ctx, spec, design, sizes)
