"""The demo study: lifelines' lung cancer data (R ``survival::lung``) at three hospitals.

The 18 real institutions of the data are grouped into three simulated hospitals,
so the stations differ in size and case mix, as real sites do. ``perron demo``
runs the study through a real hub and three station processes and shows it next
to the same study simulated in one process; ``perron demo --simulate`` runs only
the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from perron.algorithms.cox_result import CoxResult
from perron.algorithms.glm_result import GLMResult
from perron.algorithms.km_result import KaplanMeierResult
from perron.algorithms.logrank import LogrankResult
from perron.algorithms.summary import SummaryResult
from perron.client.session import Session
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import DataSourceError

#: Institution codes per simulated station.
STATIONS: Mapping[str, tuple[int, ...]] = {
    "hospital_north": (1, 2, 3, 4, 5, 6),
    "hospital_centre": (7, 10, 11, 12, 13, 15),
    "hospital_south": (16, 21, 22, 26, 32, 33),
}

#: Each hospital's data holder: the default thresholds, and survival times that
#: leave the hospital only rounded up to whole weeks (single events allowed there).
POLICY = DisclosurePolicy(event_times="rounded", time_grid=7.0, min_events=1)


def lung_stations() -> dict[str, pd.DataFrame]:
    """The lung data split over three stations by institution.

    lifelines codes ``status`` 0/1 already (R's is 1/2); column names with dots get
    underscores so they work in formulas.
    """
    try:
        from lifelines.datasets import load_lung  # noqa: PLC0415 - optional extra
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataSourceError(
            "the demo data comes with lifelines; install it with `pip install perron[demo]`."
        ) from exc
    lung = load_lung().rename(columns=lambda c: c.replace(".", "_"))
    return {
        name: lung[lung["inst"].isin(codes)].drop(columns="inst").reset_index(drop=True)
        for name, codes in STATIONS.items()
    }


@dataclass(frozen=True)
class StudyResults:
    summary: SummaryResult
    glm: GLMResult
    km: KaplanMeierResult
    logrank: LogrankResult
    cox: CoxResult


def run_study(session: Session) -> StudyResults:
    """The demo's analyses, the same for a simulated and a networked session."""
    return StudyResults(
        summary=session.summary(["age", "ph_karno", "wt_loss"]),
        glm=session.glm("status ~ age + sex + ph_ecog + wt_loss", family="binomial"),
        km=session.kaplan_meier("time", "status", by="sex", times=[180, 365, 730]),
        logrank=session.logrank("time", "status", "sex"),
        cox=session.coxph("time", "status", ["age", "sex", "ph_ecog"], ties="efron"),
    )


def report(console: Console, results: StudyResults, out: Path) -> None:
    """Print the study's tables and write its plots."""
    from perron.plots import glm_forest_plot  # noqa: PLC0415 - matplotlib only here

    console.print(table("Summary (per station and combined)", results.summary.table.reset_index()))
    glm = results.glm
    console.print(
        table(
            f"Logistic GLM of death during follow-up: n={glm.nobs}, "
            f"dropped {dict(glm.dropped_per_station)}, {glm.iterations} iterations",
            glm.summary().reset_index(names="term"),
        )
    )
    console.print(f"Forest plot: {glm_forest_plot(glm, out / 'glm_forest.png', exponentiate=True)}")
    km = results.km
    medians = km.median.reset_index(names="sex (1 = male, 2 = female)")
    console.print(table("Kaplan-Meier median survival in days (95% CI)", medians))
    console.print(table("Survival at 180, 365 and 730 days", km.survival_at().reset_index()))
    km.plot(out / "km_by_sex.png")
    rank = results.logrank
    console.print(
        f"Log-rank test by sex: chi2 {rank.statistic:.4g} on {rank.df} df, p={rank.p_value:.3g}"
    )
    console.print(f"Kaplan-Meier plot: {out / 'km_by_sex.png'}")
    cox = results.cox
    lr = cox.likelihood_ratio_test
    console.print(
        table(
            f"Cox model of survival (Efron ties): n={cox.nobs}, {cox.n_events} events; "
            f"LR test {lr.statistic:.4g} on {lr.df} df (p={lr.p_value:.3g}); "
            f"concordance within hospitals {cox.concordance:.3f}; times rounded to weeks",
            cox.summary()[["coef", "exp(coef)", "se(coef)", "z", "p"]].reset_index(names="term"),
        )
    )
    console.print(f"Hazard-ratio plot: {cox.plot(out / 'cox_forest.png')}")


def side_by_side(network: StudyResults, simulated: StudyResults) -> pd.DataFrame:
    """Key numbers of both runs and their largest absolute difference."""
    rows: list[tuple[str, float, float]] = []
    for column in ("age", "ph_karno", "wt_loss"):
        key = (column, "combined")
        rows.append(
            (
                f"mean {column}",
                float(network.summary.table["mean"][key]),
                float(simulated.summary.table["mean"][key]),
            )
        )
    for term in network.glm.params.index:
        rows.append((f"GLM {term}", network.glm.params[term], simulated.glm.params[term]))
    rows.append(("GLM log-likelihood", network.glm.llf, simulated.glm.llf))
    for group in network.km.median.index:
        rows.append(
            (
                f"KM median, sex {group}",
                network.km.median.loc[group, "median"],
                simulated.km.median.loc[group, "median"],
            )
        )
    rows.append(("log-rank chi2", network.logrank.statistic, simulated.logrank.statistic))
    for term in network.cox.params.index:
        rows.append((f"Cox {term}", network.cox.params[term], simulated.cox.params[term]))
    rows.append(("Cox log-likelihood", network.cox.llf, simulated.cox.llf))
    frame = pd.DataFrame(rows, columns=["quantity", "network", "simulation"])
    frame["|difference|"] = (frame["network"] - frame["simulation"]).abs()
    return frame


def table(title: str, frame: pd.DataFrame) -> Table:
    """A rich table of a data frame (numbers with four significant digits)."""
    out = Table(title=title, title_justify="left")
    for column in frame.columns:
        out.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for _, row in frame.iterrows():
        out.add_row(*(_cell(v) for v in row))
    return out


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)
