"""Hospital + insurer recalibrate a risk model with MPC: ``perron demo --mpc``.

The synthetic three-holder scenario (:func:`perron.linkage.synthetic.scenario`):

1. the hospital and the insurer turn valid BSNs into study pseudonyms (holder key,
   then the TTP's study key); the linked cohort is the pseudonyms both have (in
   deployment the private set intersection of :mod:`perron.linkage.psi` gives each
   holder its linked rows; here the demo intersects them itself);
2. the hospital summarises its records per patient (age, sex, heart failure,
   diabetes, number of diagnoses, days in hospital) and observes an outcome, a
   readmission within a year (synthetic: drawn from a known model in which prior
   care use, which only the insurer sees, matters); the insurer summarises care use
   (mean yearly cost, GP cost, mental-health care);
3. a logistic readmission model on both holders' columns is fitted by three
   processes on loopback (hospital, insurer, and the pharmacy as the helper party
   that holds no data here), rows aligned by pseudonym inside the parties;
4. the coefficients are printed next to the pooled fit (which the demo can make
   only because the data is synthetic), with what each party learned.

``dataset="lbw"`` runs the same on the Hosmer & Lemeshow low birth weight data
(from the statsmodels wheel), split into a clinic's and a registry's columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from rich.console import Console
from rich.table import Table

from perron.linkage.pseudonym import PseudonymKey, local_ttp, pseudonymise_frame
from perron.linkage.synthetic import Holder, scenario
from perron.mpc.result import VerticalResult
from perron.mpc.runner import fit_vertical
from perron.mpc.spec import VerticalSpec
from perron.protocol.errors import InputError

__all__ = [
    "MpcDemoOutcome",
    "hospital_insurer",
    "lbw_split",
    "pooled_logistic",
    "published_model",
    "recalibrate",
    "run",
]

STUDY = "mpc-demo"
FloatArray = npt.NDArray[np.float64]

HOSPITAL_COLUMNS = ("age", "male", "heart_failure", "diabetes", "diagnoses", "days")
INSURER_COLUMNS = ("log_cost", "gp_cost", "mental_health")
LBW_CLINIC = ("age", "lwt", "black", "other", "smoke")
LBW_REGISTRY = ("ptl", "ht", "ui")


@dataclass(frozen=True)
class MpcDemoOutcome:
    """What the demo fitted and how it compares.

    Attributes
    ----------
    result : VerticalResult
        The MPC fit.
    pooled : Series
        The same model fitted on the pooled rows (only possible on demo data).
    linked : int
        Rows in the linked cohort.
    """

    result: VerticalResult
    pooled: pd.Series
    #: The published model's recalibration on this cohort (``dataset="scenario"``).
    recalibration: VerticalResult | None = None

    @property
    def linked(self) -> int:
        """Rows in the linked cohort."""
        return self.result.nobs

    @property
    def max_difference(self) -> float:
        """Largest absolute difference between the MPC and the pooled coefficients."""
        return float(np.max(np.abs(self.result.params - self.pooled[self.result.params.index])))


def pooled_logistic(x: FloatArray, y: FloatArray, iterations: int = 50) -> FloatArray:
    """Newton-Raphson for a logistic model on pooled data (the demo's reference).

    Examples
    --------
    >>> x = np.c_[np.ones(6), [0.0, 1, 2, 3, 4, 5]]
    >>> beta = pooled_logistic(x, np.array([0.0, 0, 1, 0, 1, 1]))
    >>> np.round(beta, 3).tolist()
    [-3.035, 1.214]
    """
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        mu = 1 / (1 + np.exp(-(x @ beta)))
        step = np.linalg.solve(x.T @ (x * (mu * (1 - mu))[:, None]), x.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta


def _pseudonyms(holder: Holder, source: PseudonymKey, ttp: PseudonymKey) -> pd.DataFrame:
    """``record_id`` and ``pseudonym`` for the records with a valid BSN."""
    people = holder.people[holder.people["bsn"].notna()]
    done = pseudonymise_frame(
        people[["record_id", "bsn"]], "bsn", source, local_ttp(ttp, STUDY), invalid="drop"
    )
    return done.frame


def _hospital_summary(holder: Holder) -> pd.DataFrame:
    people = holder.people.set_index("record_id")
    events = holder.events.groupby("record_id")
    frame = pd.DataFrame(
        {
            "age": 2025 - pd.to_numeric(people["dob"].str.slice(0, 4), errors="coerce"),
            "male": (people["sex"] == "m").astype(float).where(people["sex"].notna()),
        }
    )
    frame["heart_failure"] = events["icd10"].agg(lambda c: float((c == "I50.9").any()))
    frame["diabetes"] = events["icd10"].agg(lambda c: float((c == "E11.9").any()))
    frame["diagnoses"] = events.size().astype(float)
    frame["days"] = events["length_of_stay"].sum().astype(float)
    return frame.fillna({"heart_failure": 0.0, "diabetes": 0.0, "diagnoses": 0.0, "days": 0.0})


def _insurer_summary(holder: Holder) -> pd.DataFrame:
    claims = holder.events
    yearly = claims.groupby(["record_id", "year"])["cost"].sum().groupby("record_id").mean()
    gp = claims[claims["care_type"] == "huisartsenzorg"].groupby("record_id")["cost"].sum()
    mental = claims[claims["care_type"] == "ggz"].groupby("record_id").size()
    frame = pd.DataFrame(index=holder.people["record_id"])
    frame["log_cost"] = np.log(yearly.reindex(frame.index).fillna(0.0) / 1000 + 1)
    frame["gp_cost"] = gp.reindex(frame.index).fillna(0.0) / 1000
    frame["mental_health"] = (mental.reindex(frame.index).fillna(0) > 0).astype(float)
    return frame


def hospital_insurer(size: int = 500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The linked hospital and insurer tables (pseudonym, columns; hospital: outcome).

    Each holder keeps only its complete records with a valid BSN that the other
    also has; the rows are in each holder's own order (the pseudonym aligns them).
    The outcome ``readmitted`` is synthetic, drawn once from a fixed model.
    """
    data = scenario(seed=seed, size=size)
    source = PseudonymKey.generate(version="v1", owner="hospital and insurer")
    ttp = PseudonymKey.generate(version="v1", owner="TTP")
    tables = {}
    for holder, summary in (
        (data.hospital, _hospital_summary(data.hospital)),
        (data.insurer, _insurer_summary(data.insurer)),
    ):
        keys = _pseudonyms(holder, source, ttp)
        table = keys.merge(summary.dropna(), left_on="record_id", right_index=True)
        tables[holder.name] = table.drop(columns="record_id")
    shared = set(tables["hospital"]["pseudonym"]) & set(tables["insurer"]["pseudonym"])
    hospital = tables["hospital"][tables["hospital"]["pseudonym"].isin(shared)]
    insurer = tables["insurer"][tables["insurer"]["pseudonym"].isin(shared)]
    # The synthetic outcome: the demo may pool because it made the data.
    both = hospital.merge(insurer, on="pseudonym")
    eta = (
        -3.2
        + 0.02 * (both["age"] - 60)
        + 0.9 * both["heart_failure"]
        + 0.2 * both["diagnoses"]
        + 0.6 * both["log_cost"]
        + 0.5 * both["mental_health"]
    )
    rng = np.random.default_rng([seed, 8])
    drawn = rng.random(len(both)) < 1 / (1 + np.exp(-eta.to_numpy()))
    outcome = pd.Series(drawn.astype(int), index=both["pseudonym"])
    hospital = hospital.assign(readmitted=hospital["pseudonym"].map(outcome))
    return hospital.reset_index(drop=True), insurer.reset_index(drop=True)


def lbw_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """LBW (189 births) split into a clinic's columns (with ``low``) and a registry's."""
    import statsmodels  # noqa: PLC0415 - a core dependency; the data ships in its wheel

    path = Path(statsmodels.__file__).parent / "genmod/tests/results/stata_lbw_glm.csv"
    lbw = pd.read_csv(path)
    lbw["black"] = (lbw["race"] == "black").astype(float)
    lbw["other"] = (lbw["race"] == "other").astype(float)
    lbw["pseudonym"] = lbw["id"].map(lambda i: f"P{i:04d}")
    clinic = lbw[["pseudonym", "low", *LBW_CLINIC]]
    registry = lbw[["pseudonym", *LBW_REGISTRY]].sample(frac=1.0, random_state=1)
    return clinic, registry.reset_index(drop=True)


def run(
    console: Console | None = None,
    *,
    dataset: Literal["scenario", "lbw"] = "scenario",
    size: int = 500,
    seed: int = 0,
) -> MpcDemoOutcome:
    """Fit the demo model with three MPC processes and print it next to the pooled fit.

    Parameters
    ----------
    console : rich Console, optional
        Where to print (default: a new console on stdout).
    dataset : {"scenario", "lbw"}
        Synthetic hospital + insurer (readmission), or LBW split vertically.
    size : int
        Hospital patients in the synthetic scenario (about 55 % get linked).
    seed : int
        Seed of the synthetic scenario.
    """
    console = console or Console()
    if dataset == "scenario":
        first, second = hospital_insurer(size=size, seed=seed)
        spec = VerticalSpec(
            "binomial",
            "readmitted",
            (HOSPITAL_COLUMNS, INSURER_COLUMNS),
            ("hospital", "insurer"),
            key="pseudonym",
        )
        title = "readmission risk: hospital (clinical) + insurer (care use), synthetic"
    elif dataset == "lbw":
        first, second = lbw_split()
        spec = VerticalSpec(
            "binomial", "low", (LBW_CLINIC, LBW_REGISTRY), ("clinic", "registry"), key="pseudonym"
        )
        title = "low birth weight (Hosmer & Lemeshow): clinic + registry"
    else:
        raise InputError(f"dataset {dataset!r}: choose 'scenario' or 'lbw'.")
    console.print(f"[bold]Perron demo: vertical logistic regression on MPC[/bold] ({title})")
    console.print(
        f"{spec.holders[0]} and {spec.holders[1]} each start their MPC party on loopback; "
        "a helper party with no data makes the honest majority (3 parties, t = 1)."
    )
    result = fit_vertical(first, second, spec)
    both = first.merge(second, on="pseudonym")
    x = np.column_stack([np.ones(len(both)), both[list(spec.names[1:])].to_numpy(float)])
    pooled = pd.Series(pooled_logistic(x, both[spec.outcome].to_numpy(float)), index=spec.names)
    outcome = MpcDemoOutcome(result, pooled)
    table = Table(title=f"{result.nobs} linked patients, {result.iterations} Newton iterations")
    for column in ("coefficient", "holder", "MPC", "std err", "pooled", "|difference|"):
        table.add_column(column, justify="left" if column in ("coefficient", "holder") else "right")
    owners = [
        "-",
        *[spec.holders[0]] * len(spec.columns[0]),
        *[spec.holders[1]] * len(spec.columns[1]),
    ]
    for name, owner in zip(spec.names, owners, strict=True):
        mpc, reference = result.params[name], pooled[name]
        table.add_row(
            name,
            owner,
            f"{mpc:.6f}",
            f"{result.bse[name]:.4f}",
            f"{reference:.6f}",
            f"{abs(mpc - reference):.1e}",
        )
    console.print(table)
    seconds = ", ".join(f"{s:.1f}" for s in result.seconds)
    console.print(f"Time: {result.total_seconds:.1f} s in the session; per iteration: {seconds} s.")
    for party, labels in result.learned.items():
        rows, columns = result.inputs[party]
        data = f"shared {rows} rows x {columns} columns" if rows else "held no data"
        kinds = sorted({label.split(",")[0] for label in labels})
        console.print(f"{party}: {data}; opened in the clear: {'; '.join(kinds)}")
    if dataset != "scenario":
        return outcome
    published = published_model(size=size, seed=seed + 1)
    recalibrated = recalibrate(first, second, published)
    console.print(
        "[bold]Recalibration[/bold] of a published readmission model (fitted elsewhere) on "
        "this cohort: each holder computes its part of the published linear predictor "
        "from its own columns; MPC fits the intercept and one slope per part."
    )
    for name in recalibrated.params.index:
        console.print(
            f"  {name:>12}: {recalibrated.params[name]: .4f} (std err {recalibrated.bse[name]:.4f})"
        )
    return MpcDemoOutcome(result, pooled, recalibrated)


def published_model(size: int = 500, seed: int = 1) -> pd.Series:
    """A 'published' readmission model: the pooled fit on another synthetic population."""
    first, second = hospital_insurer(size=size, seed=seed)
    both = first.merge(second, on="pseudonym")
    columns = [*HOSPITAL_COLUMNS, *INSURER_COLUMNS]
    x = np.column_stack([np.ones(len(both)), both[columns].to_numpy(float)])
    return pd.Series(
        pooled_logistic(x, both["readmitted"].to_numpy(float)), index=["Intercept", *columns]
    )


def recalibrate(
    hospital: pd.DataFrame, insurer: pd.DataFrame, published: pd.Series
) -> VerticalResult:
    """Logistic recalibration of ``published`` on the linked cohort, with MPC.

    Each holder computes its part of the published linear predictor locally (the
    hospital's includes the intercept); the model ``logit P(y) = a + b_h lp_hospital +
    b_i lp_insurer`` is then fitted vertically. A model that transports perfectly
    gives ``a = 0`` and both slopes 1; the fitted values update it to this cohort.
    """
    own = list(HOSPITAL_COLUMNS)
    theirs = list(INSURER_COLUMNS)
    first = hospital[["pseudonym", "readmitted"]].assign(
        lp_hospital=published["Intercept"]
        + hospital[own].to_numpy(float) @ published[own].to_numpy(float)
    )
    second = insurer[["pseudonym"]].assign(
        lp_insurer=insurer[theirs].to_numpy(float) @ published[theirs].to_numpy(float)
    )
    spec = VerticalSpec(
        "binomial",
        "readmitted",
        (("lp_hospital",), ("lp_insurer",)),
        ("hospital", "insurer"),
        key="pseudonym",
    )
    return fit_vertical(first, second, spec)
