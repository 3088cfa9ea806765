"""``perron demo --prediction``: the recalibrated score is calibrated in the large."""

from __future__ import annotations

import pytest
from rich.console import Console

from perron.demos.prediction import PredictionOutcome, run_prediction
from tests.support import assert_close


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> PredictionOutcome:
    folder = tmp_path_factory.mktemp("prediction")
    with (folder / "log.txt").open("w") as log:
        return run_prediction(Console(file=log), folder)


def test_the_demo_recalibrates_the_score_and_writes_both_plots(outcome):
    assert outcome.before.oe_ratio is not None
    assert outcome.before.oe_ratio > 1.5
    assert outcome.after.oe_ratio is not None
    assert_close(outcome.after.oe_ratio, 1.0)
    assert outcome.after.slope is not None
    assert_close(outcome.after.slope, 1.0)
    assert outcome.after.brier is not None
    assert outcome.before.brier is not None
    assert outcome.after.brier < outcome.before.brier
    assert all(path.stat().st_size > 10_000 for path in outcome.plots)


def test_the_demo_trains_a_model_by_fedavg_that_discriminates(outcome):
    assert len(outcome.trained.history) == outcome.trained.best_round
    assert outcome.trained_validation.concordance > 0.75
    assert outcome.trained_validation.brier is not None
    assert outcome.before.brier is not None
    assert outcome.trained_validation.brier < outcome.before.brier
