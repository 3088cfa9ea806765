"""Secure aggregation between real station processes: the hub and the researcher's
coordinator see masked vectors only, and the fit equals the plain one."""

from __future__ import annotations

import numpy as np
import pytest

import perron
from perron.localnet import LocalNetwork


def test_a_logistic_regression_under_secure_aggregation_through_a_hub(lbw, split, tmp_path):
    frames = split(lbw, (0.5, 0.3, 0.2))
    formula = "low ~ age + lwt + smoke + ui"
    expected = perron.simulate(frames).glm(formula, family="binomial")

    with LocalNetwork(frames, workdir=tmp_path) as network:
        session = network.connect()
        session.secure_aggregation = True
        result = session.glm(formula, family="binomial")
        summary = session.summary(["age", "lwt"])
        session.close()

    np.testing.assert_allclose(result.params, expected.params, rtol=1e-9)
    assert result.nobs_per_station == {"(secure sum)": len(lbw)}
    assert summary.table.loc[("age", "combined"), "mean"] == pytest.approx(
        lbw["age"].mean(), rel=1e-12
    )
