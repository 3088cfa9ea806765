"""GLM families in SQL: the row-wise IRLS quantities of :mod:`perron.data.families`.

:meth:`perron.data.sql.SqlSource.irls_sums` sums these expressions in the database.
Each one is written as :class:`~perron.data.families.Family` and
:meth:`~perron.data.frame.FrameSource.irls_sums` compute it in numpy, so both sources
give the same sums to rounding. Every function is typed DOUBLE, so SQLAlchemy adds no
``NUMERIC`` casts to divisions (DuckDB would round them to a fixed-point decimal).
The logistic function's ``exp`` argument is clamped to [-350, 350], so neither it
nor the square of a fitted probability overflows or underflows (PostgreSQL raises on
both where numpy gives inf or 0); beyond that the probability is clipped to eps or
1 - eps anyway, so the sums do not change.

:meth:`~perron.data.sql.SqlSource.irls_sums` evaluates these in stacked subqueries
(rows -> linear predictor -> fitted mean -> clipped mean -> IRLS quantities), so that
each ``exp`` runs once per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa

from perron.data.families import Family

Expr = sa.ColumnElement[Any]

#: Probabilities are kept this far from 0 and 1 (as :mod:`perron.data.families`).
_EPS = float(np.finfo(np.float64).eps)
#: ``exp`` arguments are clamped here in the logistic function: exp(-350)^2 is
#: still a normal double.
_EXP_LIMIT = 350.0


def const(value: float) -> Expr:
    """A numeric constant of the code (never a data value) as a DOUBLE literal."""
    return sa.cast(sa.literal_column(repr(float(value))), sa.Double())


def fn(name: str, *arguments: Any) -> Expr:
    """A DOUBLE-valued SQL function (typed, so SQLAlchemy adds no NUMERIC casts)."""
    function: Expr = getattr(sa.func, name)(*arguments, type_=sa.Double())
    return function


ZERO = const(0.0)
ONE = const(1.0)
NAN: Expr = sa.cast(sa.literal_column("'NaN'"), sa.Double())


def start_mu(family: Family, y: Expr, mean: float) -> Expr:
    """:meth:`Family.start_mu` in SQL."""
    if family.name == "binomial":
        return (y + const(0.5)) / const(2.0)
    if family.name == "poisson":
        return (y + sa.bindparam(None, mean, type_=sa.Double())) / const(2.0)
    return y


def clipped(mu: Expr) -> Expr:
    return fn("least", fn("greatest", mu, const(_EPS)), const(1 - _EPS))


def link(family: Family, mu: Expr) -> Expr:
    """:meth:`Family.link` in SQL."""
    if family.name == "binomial":
        p = clipped(mu)
        return fn("ln", p / (ONE - p))
    if family.name == "poisson":
        return fn("ln", mu)
    return mu


def inverse(family: Family, eta: Expr) -> Expr:
    """:meth:`Family.inverse` in SQL; the logistic function's ``exp`` argument is
    clamped to [-350, 350], so it neither overflows nor underflows."""
    if family.name == "binomial":
        argument = fn("least", fn("greatest", -eta, const(-_EXP_LIMIT)), const(_EXP_LIMIT))
        return ONE / (ONE + fn("exp", argument))
    if family.name == "poisson":
        return fn("exp", eta)
    return eta


def xlogy(x: Expr, y: Expr) -> Expr:
    """scipy's ``xlogy``: 0 where x == 0, else x * log(y)."""
    return sa.case((x == ZERO, ZERO), else_=x * fn("ln", y))


def clipped_mean(family: Family, mu: Expr) -> Expr:
    """The mean as the variance and link functions see it (binomial: clipped)."""
    return clipped(mu) if family.name == "binomial" else mu


def variance(family: Family, p: Expr) -> Expr:
    """:meth:`Family.variance` of the (clipped) mean."""
    if family.name == "binomial":
        return p * (ONE - p)
    if family.name == "poisson":
        return p
    return ONE


def irls_columns(
    family: Family, y: Expr, mu: Expr, p: Expr, v: Expr, eta: Expr, offset: Expr
) -> dict[str, Expr]:
    """Per-row IRLS quantities of ``FrameSource.irls_sums``, in closed form.

    ``mu`` is the fitted mean, ``p`` the same through :func:`clipped_mean` and ``v``
    its :func:`variance` (columns of a subquery). With the canonical links ``d eta /
    d mu = 1 / v``, so the weight ``1 / (v (d eta / d mu)^2)`` is ``v`` and the working
    response is ``eta - offset + (y - mu) / v``. ``loglik`` is the per-row
    log-likelihood without the Poisson ``-log y!``; for the binomial it is minus half
    the deviance contribution (the deviance column is then 0, finished after the sum)
    and needs no ``xlogy``: ``p`` is clipped away from 0 and 1.
    """
    residual = y - mu
    saturated: Expr = sa.literal_column("0")
    if family.name == "binomial":
        loglik = y * fn("ln", p) + (ONE - y) * fn("ln", ONE - p)
        deviance = ZERO
        saturated = sa.case(
            (sa.or_(mu < const(1e-10), mu > const(1 - 1e-10)), sa.literal_column("1")),
            else_=sa.literal_column("0"),
        )
    elif family.name == "poisson":
        deviance = const(2.0) * (xlogy(y, y / mu) - residual)
        loglik = xlogy(y, mu) - mu
    else:
        deviance = residual * residual
        loglik = ZERO
    return {
        "y": y,
        "w": v,
        "z": eta - offset + residual / v,
        "dev": deviance,
        "pearson": residual * residual / v,
        "loglik": loglik,
        "saturated": saturated,
    }
