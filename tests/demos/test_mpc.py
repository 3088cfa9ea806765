"""The demo's recalibration of a published model on MPC equals statsmodels on the pooled
linear-predictor parts (intercept and one slope per holder's part)."""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm

from perron.demos.mpc import (
    HOSPITAL_COLUMNS,
    INSURER_COLUMNS,
    hospital_insurer,
    published_model,
    recalibrate,
)


def test_recalibration_on_mpc_equals_the_pooled_fit():
    hospital, insurer = hospital_insurer(size=400, seed=3)
    published = published_model(size=400, seed=4)

    result = recalibrate(hospital, insurer, published)

    both = hospital.merge(insurer, on="pseudonym")
    own, theirs = list(HOSPITAL_COLUMNS), list(INSURER_COLUMNS)
    lp_h = published["Intercept"] + both[own].to_numpy(float) @ published[own].to_numpy(float)
    lp_i = both[theirs].to_numpy(float) @ published[theirs].to_numpy(float)
    x = sm.add_constant(np.column_stack([lp_h, lp_i]))
    expected = sm.GLM(both["readmitted"].to_numpy(float), x, family=sm.families.Binomial()).fit(
        tol=1e-12
    )
    np.testing.assert_allclose(result.params.to_numpy(), expected.params, atol=1e-4)
    np.testing.assert_allclose(result.bse.to_numpy(), expected.bse, atol=1e-4)
