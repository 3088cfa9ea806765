"""Vertical regression between three real MPC processes on loopback.

Each test starts ``python -m perron.mpc.party`` three times (holder 0 with the
outcome, holder 1, the helper) through :func:`perron.mpc.fit_vertical`; the
reference is the pooled statsmodels fit of the same rows.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm

from perron.mpc import VerticalSpec, fit_vertical
from perron.mpc.runner import free_ports
from perron.mpc.spec import Family
from perron.protocol.errors import (
    ConvergenceFailed,
    InputError,
    RoundTimeout,
    SingularDesign,
    TransportError,
    UnknownColumn,
)

#: The issue's bar; the fits agree to about 1e-7 (fixed point with 2^-40 and a
#: sigmoid series accurate to 2e-8).
TOLERANCE = 1e-4

CLINIC = ("age", "lwt", "black", "other", "smoke")
REGISTRY = ("ptl", "ht", "ui")


def assert_no_children_left() -> None:
    """Every process this test process started has been reaped (no zombies)."""
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.fixture(scope="module")
def lbw_holders(lbw):
    """LBW split vertically: a clinic with the outcome, a registry with its rows shuffled;
    the study pseudonym aligns them."""
    frame = lbw.assign(
        black=(lbw["race"] == "black").astype(float),
        other=(lbw["race"] == "other").astype(float),
        pseudonym=[f"P{i:04d}" for i in lbw["id"]],
    )
    clinic = frame[["pseudonym", "low", "bwt", *CLINIC]]
    registry = frame[["pseudonym", *REGISTRY]].sample(frac=1.0, random_state=3)
    return frame, clinic, registry.reset_index(drop=True)


def lbw_spec(family: Family = "binomial", **changes: Any) -> VerticalSpec:
    outcome = "low" if family == "binomial" else "bwt"
    fields = {"holders": ("clinic", "registry"), "key": "pseudonym", **changes}
    return VerticalSpec(family, outcome, (CLINIC, REGISTRY), **fields)


@pytest.fixture(scope="module")
def logistic_fit(lbw_holders):
    _, clinic, registry = lbw_holders
    return fit_vertical(clinic, registry, lbw_spec())


def test_logistic_regression_equals_the_pooled_statsmodels_fit_on_lbw(lbw_holders, logistic_fit):
    """statsmodels: GLM(low ~ age + lwt + black + other + smoke + ptl + ht + ui, Binomial)
    on all 189 rows (Hosmer & Lemeshow's model)."""
    frame, _, _ = lbw_holders
    x = sm.add_constant(frame[[*CLINIC, *REGISTRY]]).rename(columns={"const": "Intercept"})
    expected = sm.GLM(frame["low"], x, family=sm.families.Binomial()).fit()

    names = list(expected.params.index)
    assert logistic_fit.nobs == 189
    np.testing.assert_allclose(logistic_fit.params[names], expected.params, atol=TOLERANCE)
    np.testing.assert_allclose(logistic_fit.bse[names], expected.bse, atol=TOLERANCE)
    assert 3 <= logistic_fit.iterations <= 10


def test_the_helper_holds_no_data_and_opens_no_coefficient(logistic_fit):
    learned = logistic_fit.learned

    assert logistic_fit.inputs["helper"] == (0, 0)
    assert logistic_fit.inputs["clinic"] == (189, 1 + len(CLINIC))
    assert logistic_fit.inputs["registry"] == (189, len(REGISTRY))
    assert learned["helper"]
    assert all(
        "coefficient" not in label and "covariance" not in label for label in learned["helper"]
    )
    for holder in ("clinic", "registry"):
        assert "final coefficients" in learned[holder]
        own = [label for label in learned[holder] if label.startswith("own coefficient block")]
        assert len(own) == logistic_fit.iterations + 1  # every iteration, and the final one


def test_linear_regression_equals_the_pooled_statsmodels_fit_on_whas500(whas500, tmp_path):
    """statsmodels: OLS(sysbp ~ age + gender + bmi + hr + diasbp + chf + afb + cvd) on
    WHAS500; a hospital has the vital signs (a CSV file), a GP registry the history
    (a Parquet file); each party process reads its own file."""
    hospital_columns, registry_columns = (
        ("age", "gender", "bmi", "hr", "diasbp"),
        ("chf", "afb", "cvd"),
    )
    frame = whas500.assign(diasbp=whas500["diasbp"].astype(float))
    frame[["sysbp", *hospital_columns]].to_csv(tmp_path / "hospital.csv", index=False)
    frame[list(registry_columns)].to_parquet(tmp_path / "registry.parquet")
    spec = VerticalSpec("gaussian", "sysbp", (hospital_columns, registry_columns), ("h", "r"))

    result = fit_vertical(tmp_path / "hospital.csv", tmp_path / "registry.parquet", spec)

    x = sm.add_constant(frame[list(spec.names[1:])]).rename(columns={"const": "Intercept"})
    expected = sm.OLS(frame["sysbp"], x).fit()
    names = list(expected.params.index)
    np.testing.assert_allclose(result.params[names], expected.params, atol=TOLERANCE)
    np.testing.assert_allclose(result.bse[names], expected.bse, atol=TOLERANCE)
    np.testing.assert_allclose(result.scale, expected.scale, rtol=1e-6)
    assert result.iterations == 0
    summary = result.summary()
    np.testing.assert_allclose(summary["t"], expected.tvalues[names], rtol=1e-5)
    np.testing.assert_allclose(summary["P>|t|"], expected.pvalues[names], atol=1e-6)


def test_holders_with_different_row_counts_are_stopped_with_a_clear_error(lbw_holders):
    _, clinic, registry = lbw_holders

    with pytest.raises(
        InputError, match=r"different row counts \('clinic': 189, 'registry': 188\)"
    ):
        fit_vertical(clinic, registry.iloc[1:], lbw_spec(key=None))


def test_holders_whose_pseudonyms_differ_are_stopped(lbw_holders):
    _, clinic, registry = lbw_holders
    moved = registry.assign(pseudonym=registry["pseudonym"].str.replace("P0", "Q0"))

    with pytest.raises(InputError, match="pseudonyms in 'pseudonym' differ"):
        fit_vertical(clinic, moved, lbw_spec())


def test_a_missing_column_in_a_holders_file_is_named_at_the_caller(lbw_holders, tmp_path):
    """The registry's process reads its file, finds no ``ptl``, and tells the others."""
    _, clinic, registry = lbw_holders
    registry.drop(columns="ptl").to_csv(tmp_path / "registry.csv", index=False)

    with pytest.raises(UnknownColumn, match="holder 'registry' has no column 'ptl'"):
        fit_vertical(clinic, tmp_path / "registry.csv", lbw_spec())
    assert_no_children_left()


def test_a_missing_column_in_a_frame_is_named_before_any_process_starts(lbw_holders):
    _, clinic, registry = lbw_holders

    with pytest.raises(UnknownColumn, match="holder 'clinic' has no column 'smoke'"):
        fit_vertical(clinic.drop(columns="smoke"), registry, lbw_spec())


def test_a_column_that_repeats_the_other_holders_is_singular(lbw_holders):
    _, clinic, registry = lbw_holders
    aligned = clinic[["pseudonym"]].merge(registry, on="pseudonym")
    copy = aligned.assign(ptl=clinic["lwt"] * 2.0)

    with pytest.raises(SingularDesign, match="nearly\\) singular across the holders"):
        fit_vertical(clinic, copy, lbw_spec("gaussian", key=None))


def test_too_few_iterations_raise_convergence_failed(lbw_holders):
    _, clinic, registry = lbw_holders

    with pytest.raises(ConvergenceFailed, match="did not converge in 2 Newton iterations"):
        fit_vertical(clinic, registry, lbw_spec(max_iter=2))


def test_a_port_in_use_gives_a_clear_error(lbw_holders):
    _, clinic, registry = lbw_holders
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        first, helper = free_ports(2)

        with pytest.raises(TransportError, match="party 1 cannot listen on its port"):
            fit_vertical(clinic, registry, lbw_spec(), ports=[first, port, helper])
    assert_no_children_left()


def test_a_crashed_party_is_reported_and_no_process_is_left(lbw_holders, tmp_path):
    _, clinic, registry = lbw_holders
    python = tmp_path / "broken-python"
    python.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)

    with pytest.raises(TransportError, match=r"(?s)exit status 139.*Segmentation fault"):
        fit_vertical(clinic, registry, lbw_spec(), python=str(python))
    assert_no_children_left()


def test_a_party_that_never_connects_makes_the_others_give_up(lbw_holders, tmp_path):
    """The helper's machine hangs: the holders stop after their connect timeout."""
    _, clinic, registry = lbw_holders
    python = tmp_path / "python"
    hang = 'case "$*" in *"--party 2"*) exec sleep 120;; esac'
    python.write_text(f'#!/bin/sh\n{hang}\nexec {sys.executable} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)

    with pytest.raises(TransportError, match="could not connect to all 3 parties within 1 s"):
        fit_vertical(clinic, registry, lbw_spec(), python=str(python), connect_timeout=1.0)
    assert_no_children_left()


def test_a_run_past_its_timeout_is_stopped(lbw_holders):
    _, clinic, registry = lbw_holders

    with pytest.raises(RoundTimeout, match=r"did not finish within 0\.5 s"):
        fit_vertical(clinic, registry, lbw_spec(), timeout=0.5)
    assert_no_children_left()
