"""What a data holder computes on its own rows, in the clear, before and during MPC.

Each holder whitens its own block of the design: a thin QR decomposition
``D_h = Q_h R_h`` of its columns (holder 0 with the intercept column first), kept as
``Z_h = sqrt(n) Q_h`` so that ``Z_h' Z_h = n I``. The model is fitted in the
coordinates ``theta_h = R_h / sqrt(n) beta_h``; the transform back,
``beta_h = T_h theta_h`` with ``T_h = sqrt(n) R_h^-1``, is the holder's own. Because
the transform is linear (holder 1's columns are not centred), no part of one
holder's coefficients moves into the other's block: the coefficient block a holder
sees during the iterations is, after its own transform, its block of the ordinary
coefficients.

Whitening makes the secret Gram matrix ``[[I, C], [C', I]]`` with ``C`` the
cross-holder correlations of the whitened columns: well scaled for fixed-point
numbers, and ``I`` and ``C`` are the only blocks; the holders' own blocks are
known without MPC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.mpc.spec import VerticalSpec
from perron.protocol.errors import (
    DataSourceError,
    InputError,
    NonNumericColumn,
    SingularDesign,
    UnknownColumn,
)

__all__ = ["CheckedHolder", "HolderDesign", "check_holder", "holder_design", "read_frame"]

FloatArray = npt.NDArray[np.float64]

#: A column whose QR diagonal is below this share of its norm is collinear.
_RANK_TOLERANCE = 1e-9

#: Raw outcomes of a linear model must stay below this (fixed-point range).
_MAX_OUTCOME = 2.0**30


@dataclass(frozen=True)
class HolderDesign:
    """One holder's whitened block of the design.

    Attributes
    ----------
    z : ndarray (n, p)
        Whitened columns, ``z' z = n I``.
    transform : ndarray (p, p)
        ``T``: the holder's coefficients are ``T @ theta``.
    outcome : ndarray (n,) or None
        The outcome (holder 0 only).
    key_digest : str
        SHA-256 of the sorted pseudonyms ("" without a key column).
    """

    z: FloatArray
    transform: FloatArray
    outcome: FloatArray | None
    key_digest: str

    @property
    def rows(self) -> int:
        """Number of rows (the linked cohort size)."""
        return int(self.z.shape[0])


def read_frame(path: Path) -> pd.DataFrame:
    """Load a holder's table from CSV or Parquet."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise DataSourceError(f"cannot read holder data {str(path)!r}: {error}.") from None


def _numeric(frame: pd.DataFrame, column: str, holder: str) -> FloatArray:
    if column not in frame.columns:
        known = ", ".join(map(str, frame.columns))
        raise UnknownColumn(
            f"holder {holder!r} has no column {column!r}; its columns are: {known}. "
            "Fix the model spec or the holder's data mapping."
        )
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise NonNumericColumn(
            f"column {column!r} of holder {holder!r} is not numeric ({series.dtype}); "
            "code it as numbers (e.g. 0/1 indicators) at the holder."
        )
    values = series.to_numpy(dtype=np.float64)
    missing = int(np.count_nonzero(~np.isfinite(values)))
    if missing:
        raise InputError(
            f"column {column!r} of holder {holder!r} has {missing} missing values; "
            "vertical MPC needs the complete linked cohort: drop or impute those "
            "patients at every holder before linking."
        )
    return values


def _whiten(design: FloatArray, names: list[str], holder: str) -> tuple[FloatArray, FloatArray]:
    n = design.shape[0]
    q, r = np.linalg.qr(design)
    norms = np.linalg.norm(design, axis=0)
    weak = np.abs(np.diag(r)) <= _RANK_TOLERANCE * np.maximum(norms, 1e-300)
    if np.any(weak):
        bad = [names[i] for i in np.flatnonzero(weak)]
        raise SingularDesign(
            f"holder {holder!r}: column(s) {bad} are constant or collinear with its other "
            "columns (or the intercept); drop them from the model."
        )
    root = np.sqrt(n)
    return q * root, np.linalg.inv(r) * root


@dataclass(frozen=True)
class CheckedHolder:
    """A holder's validated columns, in pseudonym order when the spec has a key.

    Attributes
    ----------
    names : list of str
        Its coefficient names (holder 0: ``Intercept`` first).
    columns : ndarray (n, p)
        The design block.
    outcome : ndarray (n,) or None
        The outcome (holder 0 only).
    key_digest : str
        SHA-256 of the sorted pseudonyms ("" without a key column).
    """

    names: list[str]
    columns: FloatArray
    outcome: FloatArray | None
    key_digest: str

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.columns.shape[0])


def check_holder(frame: pd.DataFrame, spec: VerticalSpec, party: int) -> CheckedHolder:
    """Validate holder ``party``'s columns of ``spec`` and put its rows in key order.

    Raises
    ------
    UnknownColumn, NonNumericColumn, InputError
        A column is missing, not numeric or incomplete; duplicate pseudonyms; an
        outcome that does not fit the family; too few rows.
    """
    holder = spec.holders[party]
    if spec.key is not None:
        if spec.key not in frame.columns:
            raise UnknownColumn(
                f"holder {holder!r} has no key column {spec.key!r}; give each holder the "
                "study pseudonyms of the linkage step."
            )
        keys = frame[spec.key].astype(str)
        if keys.duplicated().any():
            raise InputError(
                f"holder {holder!r} has duplicate pseudonyms in {spec.key!r}; the linked "
                "cohort must have one row per person."
            )
        frame = frame.iloc[np.argsort(keys.to_numpy(), kind="stable")].reset_index(drop=True)
        digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    else:
        digest = ""
    names = list(spec.columns[party])
    columns = [_numeric(frame, name, holder) for name in names]
    n = len(frame)
    if party == 0:
        names = ["Intercept", *names]
        columns = [np.ones(n), *columns]
    if n <= len(spec.names):
        raise InputError(
            f"holder {holder!r} has {n} rows for {len(spec.names)} coefficients; the "
            "linked cohort is too small for this model."
        )
    outcome = None
    if party == 0:
        outcome = _numeric(frame, spec.outcome, holder)
        if spec.family == "binomial" and not np.isin(outcome, (0.0, 1.0)).all():
            raise InputError(
                f"outcome {spec.outcome!r} of a logistic model must be coded 0/1 at "
                f"holder {holder!r}."
            )
        if spec.family == "gaussian" and np.max(np.abs(outcome)) >= _MAX_OUTCOME:
            raise InputError(
                f"outcome {spec.outcome!r} has values beyond 2**30; rescale it (e.g. to "
                "thousands) before a vertical linear model."
            )
    return CheckedHolder(names, np.column_stack(columns), outcome, digest)


def holder_design(frame: pd.DataFrame, spec: VerticalSpec, party: int) -> HolderDesign:
    """Validate, align and whiten holder ``party``'s columns of ``spec``.

    Examples
    --------
    >>> frame = pd.DataFrame({"y": [0, 1, 0, 1, 1], "x": [1.0, 2.0, 4.0, 3.0, 5.0]})
    >>> spec = VerticalSpec("binomial", "y", (("x",), ("u",)))
    >>> design = holder_design(frame, spec, party=0)
    >>> np.allclose(design.z.T @ design.z, 5 * np.eye(2))
    True
    >>> np.allclose(design.z @ np.linalg.inv(design.transform), np.c_[np.ones(5), frame.x])
    True
    """
    checked = check_holder(frame, spec, party)
    z, transform = _whiten(checked.columns, checked.names, spec.holders[party])
    return HolderDesign(z, transform, checked.outcome, checked.key_digest)
