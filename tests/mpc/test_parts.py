"""The parts of vertical MPC that run without MPyC: the sigmoid series, the spec, a
holder's own preparation, the number encoding, and what each party learns."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from perron.demos import mpc as demo
from perron.mpc import fixed, local, regression, result, sigmoid, spec
from perron.mpc.fixed import decode, encode
from perron.mpc.local import check_holder, holder_design
from perron.mpc.regression import learned_by
from perron.mpc.sigmoid import FourierSigmoid
from perron.mpc.spec import VerticalSpec
from perron.protocol.errors import (
    InputError,
    NonNumericColumn,
    SingularDesign,
    UnknownColumn,
)


def logistic(t: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-t)))


@pytest.mark.parametrize("module", [sigmoid, spec, local, regression, result, demo, fixed])
def test_the_examples_in_the_docstrings_run(module):
    assert doctest.testmod(module, raise_on_error=True).failed == 0


def test_the_sigmoid_series_is_accurate_inside_its_period_and_bounded_outside():
    series = FourierSigmoid()
    wide = np.linspace(-60, 60, 20001)

    assert series.max_error() < 2e-8
    assert series.max_error(12.0) < 2e-8
    assert series(wide).min() >= 0
    assert series(wide).max() <= 1
    assert FourierSigmoid(12.0, 24).max_error() < 1e-6


def test_the_holders_factors_multiply_to_the_series_of_the_summed_predictor():
    rng = np.random.default_rng(5)
    eta_a, eta_b = rng.normal(0, 4, 500), rng.normal(0, 2, 500)
    series = FourierSigmoid()

    products = np.sum(series.holder_a_terms(eta_a) * series.holder_b_terms(eta_b), axis=1)

    np.testing.assert_allclose(0.5 + products, series(eta_a + eta_b), atol=1e-13)
    np.testing.assert_allclose(0.5 + products, logistic(eta_a + eta_b), atol=2e-8)


def test_a_sigmoid_without_terms_is_refused():
    with pytest.raises(InputError, match="must be positive"):
        FourierSigmoid(16.0, 0)


def test_the_spec_refuses_what_no_party_could_run():
    with pytest.raises(InputError, match="family 'poisson'"):
        VerticalSpec("poisson", "y", (("a",), ("b",)))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"columns \['a'\] appear more than once"):
        VerticalSpec("binomial", "y", (("a",), ("a",)))
    with pytest.raises(InputError, match="holder 1 contributes no columns"):
        VerticalSpec("binomial", "y", (("a",), ()))
    with pytest.raises(InputError, match="cannot read the vertical model spec"):
        VerticalSpec.from_json('{"family": "binomial"}')


@pytest.fixture
def holder_frames():
    rng = np.random.default_rng(2)
    n = 40
    keys = [f"k{i:03d}" for i in range(n)]
    a = pd.DataFrame({"key": keys, "y": rng.integers(0, 2, n), "x": rng.normal(50, 10, n)})
    b = pd.DataFrame({"key": keys, "u": rng.normal(size=n), "v": rng.integers(0, 5, n)})
    return a, b


def test_a_holder_whitens_its_block_and_keeps_the_way_back(holder_frames):
    a, b = holder_frames
    model = VerticalSpec("binomial", "y", (("x",), ("u", "v")))

    first, second = holder_design(a, model, 0), holder_design(b, model, 1)

    n = len(a)
    np.testing.assert_allclose(first.z.T @ first.z, n * np.eye(2), atol=1e-9)
    np.testing.assert_allclose(second.z.T @ second.z, n * np.eye(2), atol=1e-9)
    back_a = first.z @ np.linalg.inv(first.transform)
    back_b = second.z @ np.linalg.inv(second.transform)
    np.testing.assert_allclose(back_a, np.c_[np.ones(n), a.x], atol=1e-9)
    np.testing.assert_allclose(back_b, b[["u", "v"]], atol=1e-9)
    assert second.outcome is None
    np.testing.assert_array_equal(first.outcome, a.y)


def test_rows_are_put_in_pseudonym_order_and_the_digest_ignores_the_given_order(holder_frames):
    a, b = holder_frames
    model = VerticalSpec("gaussian", "x", (("y",), ("u",)), key="key")
    shuffled = b.sample(frac=1.0, random_state=0)

    in_order, reordered = check_holder(b, model, 1), check_holder(shuffled, model, 1)

    assert in_order.key_digest == reordered.key_digest == check_holder(a, model, 0).key_digest
    np.testing.assert_array_equal(in_order.columns, reordered.columns)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda b: b.drop(columns="u"), UnknownColumn, "holder 'B' has no column 'u'"),
        (lambda b: b.assign(u=b.u.astype(str)), NonNumericColumn, "column 'u' of holder 'B'"),
        (lambda b: b.assign(u=b.u.where(b.index > 2)), InputError, "has 3 missing values"),
        (lambda b: b.assign(key="same"), InputError, "duplicate pseudonyms"),
        (lambda b: b.drop(columns="key"), UnknownColumn, "no key column 'key'"),
        (lambda b: b.assign(v=b.u * 3), SingularDesign, r"column\(s\) \['v'\]"),
        (lambda b: b.iloc[:3], InputError, "3 rows for 4 coefficients"),
    ],
)
def test_a_holder_names_what_is_wrong_with_its_data(holder_frames, change, error, message):
    _, b = holder_frames
    model = VerticalSpec("binomial", "y", (("x",), ("u", "v")), key="key")

    with pytest.raises(error, match=message):
        holder_design(change(b), model, 1)


def test_the_outcome_must_fit_the_family(holder_frames):
    a, _ = holder_frames

    with pytest.raises(InputError, match="must be coded 0/1"):
        check_holder(a.assign(y=a.y + 1), VerticalSpec("binomial", "y", (("x",), ("u",))), 0)
    with pytest.raises(InputError, match="beyond 2\\*\\*30"):
        check_holder(a.assign(y=2.0**31), VerticalSpec("gaussian", "y", (("x",), ("u",))), 0)


def test_fixed_point_encoding_rounds_to_the_nearest_unit_and_decodes_back():
    values = np.array([[0.1, -2.5], [1e-12, 123456.789]])

    ints = encode(values, 30)

    assert ints.dtype == object
    assert all(isinstance(v, int) for v in ints.ravel())
    np.testing.assert_allclose(decode(ints, 30), values, atol=2.0**-31)
    assert encode(np.array([1e30]), 40)[0] == round(1e30) * 2**40
    with pytest.raises(ValueError, match="NaN"):
        encode(np.array([np.nan]), 10)


def test_the_helper_learns_only_sizes_and_control_bits():
    model = VerticalSpec("binomial", "y", (("a",), ("b",)))

    helper, holder = learned_by(2, model), learned_by(0, model)

    assert not any("coefficient" in item for item in helper)
    assert any("own block" in item for item in holder)
    assert any("final coefficients" in item for item in holder)
