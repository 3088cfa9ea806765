"""A published risk score recalibrated on hospitals' own patients: ``perron demo --prediction``.

As partners of Secur-e-Health recalibrated the SMART2 model on a hospital's
cohort, a published cardiovascular risk score is validated and updated here on
the real Worcester Heart Attack Study (WHAS500, from the scikit-survival wheel),
split over three hospitals. The outcome is death within one year of the heart
attack (patients censored alive before a year are left out).

The score's coefficients are **illustrative**, made up to look like a published
post-infarction mortality model developed elsewhere; they are not SMART2's,
GRACE's or any real model's. Nothing but aggregates leaves a hospital:
validation, recalibration (intercept update and logistic recalibration, exact
federated GLMs with the published linear predictor as offset), validation of the
updated model, and calibration plots before and after. Then a new model is
trained on the same hospitals by FedAvg (L2-penalised logistic regression) and
validated the same way. ``perron demo --prediction`` runs it all through a hub
and three station processes on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from perron.algorithms.prediction.published_model import PublishedModel
from perron.algorithms.prediction.recalibration import RecalibrationResult
from perron.algorithms.prediction.trained import TrainedModel
from perron.algorithms.prediction.validation_result import ValidationResult
from perron.client.session import Session
from perron.protocol.optional import require
from perron.sandbox.simulation import simulate

#: Illustrative "published" one-year mortality score after myocardial infarction.
PUBLISHED = PublishedModel(
    kind="logistic",
    name="post-MI risk score (illustrative)",
    source="illustrative coefficients for the Perron demo; not a real published model",
    intercept=-7.2,
    coefficients={
        "age": 0.075,
        "gender": 0.15,
        "hr": 0.018,
        "sysbp": -0.011,
        "bmi": -0.045,
        "chf": 1.1,
        "sho": 1.6,
    },
)
HOSPITALS = {"amsterdam": 0.5, "utrecht": 0.3, "leiden": 0.2}


def whas_hospitals() -> dict[str, pd.DataFrame]:
    """WHAS500 with ``died_1y``, shuffled (fixed seed) and split over three hospitals."""
    require("sksurv.datasets", needed_for="the WHAS500 demo data")
    from sksurv.datasets import load_whas500  # noqa: PLC0415 - optional extra

    x, y = load_whas500()
    frame = x.apply(lambda c: c.astype(float) if c.dtype.name == "category" else c)
    died = y["fstat"].astype(bool) & (y["lenfol"] <= 365)
    known = died | (y["lenfol"] > 365)
    frame = frame.assign(died_1y=died.astype(int))[known].reset_index(drop=True)
    order = np.random.default_rng(2).permutation(len(frame))
    cuts = np.round(np.cumsum(list(HOSPITALS.values()))[:-1] * len(frame)).astype(int)
    return {
        name: frame.iloc[part].reset_index(drop=True)
        for name, part in zip(HOSPITALS, np.split(order, cuts), strict=True)
    }


@dataclass(frozen=True)
class PredictionOutcome:
    before: ValidationResult
    intercept: RecalibrationResult
    logistic: RecalibrationResult
    after: ValidationResult
    plots: tuple[Path, Path]
    trained: TrainedModel
    trained_validation: ValidationResult


def _table(results: dict[str, ValidationResult]) -> Table:
    table = Table(title="external validation, pooled over three hospitals")
    table.add_column("metric")
    for label in results:
        table.add_column(label, justify="right")
    frames = {label: r.summary() for label, r in results.items()}
    for metric in next(iter(frames.values())).index:
        table.add_row(metric, *(f"{f.get(metric, float('nan')):.4g}" for f in frames.values()))
    return table


#: The published score's predictors, used for the model trained by FedAvg too.
PREDICTORS = list(PUBLISHED.coefficients)


def run_prediction(
    console: Console, out: Path, session: Session | None = None
) -> PredictionOutcome:
    """Validate, recalibrate and validate again; write the calibration plots; train a
    new model by FedAvg and validate it (``session``: the hospitals; by default the
    split of :func:`whas_hospitals` simulated in this process)."""
    session = session or simulate(whas_hospitals())
    before = session.validate(PUBLISHED, "died_1y")
    console.print(before.per_station.round(4).to_string())
    intercept = session.recalibrate(PUBLISHED, "died_1y", method="intercept")
    logistic = session.recalibrate(PUBLISHED, "died_1y", method="logistic")
    console.print(
        f"intercept update: {PUBLISHED.intercept:.3f} -> {intercept.model.intercept:.3f}; "
        f"logistic recalibration: slope {logistic.slope:.3f}, intercept "
        f"{logistic.intercept:.3f}"
    )
    after = session.validate(logistic.model, "died_1y")
    console.print(_table({"published": before, "recalibrated": after}))
    plots = (before.plot(out / "calibration_before.png"), after.plot(out / "calibration_after.png"))
    console.print(f"calibration plots: {plots[0]} and {plots[1]}")
    trained = session.train(
        "logistic", "died_1y", PREDICTORS, rounds=100, learning_rate=1.0, penalty="l2",
        alpha=0.01, validation=0.2, patience=5,
    )  # fmt: skip
    last = trained.history[-1]
    console.print(
        f"FedAvg, L2-penalised logistic regression: {len(trained.history)} rounds, best "
        f"round {trained.best_round}, held-out log-loss {last.validation_loss:.4f}"
    )
    coefficients = trained.coefficients
    fitted = PublishedModel.from_dict(
        {
            "kind": "logistic",
            "name": "trained by FedAvg",
            "intercept": float(coefficients["Intercept"]),
            "coefficients": {k: float(v) for k, v in coefficients.drop("Intercept").items()},
        }
    )
    trained_validation = session.validate(fitted, "died_1y")
    console.print(_table({"recalibrated": after, "trained (FedAvg)": trained_validation}))
    return PredictionOutcome(before, intercept, logistic, after, plots, trained, trained_validation)


def main(console: Console, out: Path = Path("out")) -> PredictionOutcome:
    """``perron demo --prediction``."""
    console.print(
        "[bold]Perron demo: a published risk score recalibrated on hospitals' own "
        "patients[/bold] (WHAS500 over three hospitals; illustrative coefficients)"
    )
    from perron.sandbox.localnet import LocalNetwork  # noqa: PLC0415 - processes only for the CLI

    console.print("starting a hub and three station processes on 127.0.0.1 ...")
    with LocalNetwork(whas_hospitals()) as net:
        session = net.connect()
        try:
            return run_prediction(console, out, session)
        finally:
            session.close()
