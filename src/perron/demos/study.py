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

from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.statistics.summary import SummaryResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.algorithms.survival.logrank import LogrankResult
from perron.client.session import Session
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.optional import require

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
    require("lifelines.datasets", needed_for="the lung cancer demo data")
    from lifelines.datasets import load_lung  # noqa: PLC0415 - optional extra

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


@dataclass(frozen=True)
class LungOutcome:
    """What ``perron demo`` ran: the simulation's results, the plots and, over the
    network, the side-by-side comparison (:func:`side_by_side`; None if simulated only)."""

    simulated: StudyResults
    plots: tuple[Path, ...]
    comparison: pd.DataFrame | None = None

    @property
    def largest_difference(self) -> float:
        """The largest |network - simulation| over the compared figures (0 if simulated only)."""
        if self.comparison is None:
            return 0.0
        return float(self.comparison["|difference|"].max())


def main(console: Console, out: Path, *, simulate_only: bool = False) -> LungOutcome:
    """``perron demo``: the study through a hub and three station processes on 127.0.0.1,
    next to the same study simulated in one process (only that with ``simulate_only``)."""
    from perron.sandbox.simulation import simulate  # noqa: PLC0415 - the CLI imports this lazily

    stations = lung_stations()
    sizes = ", ".join(f"{name} ({len(frame)} rows)" for name, frame in stations.items())
    console.print(f"[bold]Perron demo[/bold]: lung cancer data at {sizes}")
    console.print(f"Disclosure settings at every station: {POLICY}")
    reference = run_study(simulate(stations, disclosure=POLICY))
    if simulate_only:
        return LungOutcome(reference, report(console, reference, out))
    from perron.sandbox.localnet import LocalNetwork  # noqa: PLC0415 - processes only for the CLI

    network = LocalNetwork(stations, disclosure=POLICY)
    with console.status("starting a hub and three station processes on 127.0.0.1 ..."):
        network.start()
    try:
        console.print(f"hub at {network.url}; stations {', '.join(network.stations)} running")
        console.print(
            f"web interface while this demo runs: {network.url}/ui/ "
            "(`perron demo --ui` keeps one running to click through)"
        )
        results = run_study(network.connect(progress=True))
        plots = report(console, results, out)
        comparison = side_by_side(results, reference)
        console.print(table("Network vs simulation, side by side", comparison))
        for path in network.audit_logs():
            console.print(
                f"audit log {path.parent.name}: {path.read_text().count(chr(10))} entries"
            )
    finally:
        network.close()
    console.print("hub and stations stopped.")
    return LungOutcome(reference, plots, comparison)


def report(console: Console, results: StudyResults, out: Path) -> tuple[Path, ...]:
    """Print the study's tables and write its plots; return the plots' paths."""
    from perron.plots.forest import glm_forest_plot  # noqa: PLC0415 - matplotlib only here

    console.print(table("Summary (per station and combined)", results.summary.table.reset_index()))
    glm = results.glm
    console.print(
        table(
            f"Logistic GLM of death during follow-up: n={glm.nobs}, "
            f"dropped {dict(glm.dropped_per_station)}, {glm.iterations} iterations",
            glm.summary().reset_index(names="term"),
        )
    )
    forest = glm_forest_plot(glm, out / "glm_forest.png", exponentiate=True)
    console.print(f"Forest plot: {forest}")
    km = results.km
    medians = km.median.reset_index(names="sex (1 = male, 2 = female)")
    console.print(table("Kaplan-Meier median survival in days (95% CI)", medians))
    console.print(table("Survival at 180, 365 and 730 days", km.survival_at().reset_index()))
    curves = out / "km_by_sex.png"
    km.plot(curves)
    rank = results.logrank
    console.print(
        f"Log-rank test by sex: chi2 {rank.statistic:.4g} on {rank.df} df, p={rank.p_value:.3g}"
    )
    console.print(f"Kaplan-Meier plot: {curves}")
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
    hazards = cox.plot(out / "cox_forest.png")
    console.print(f"Hazard-ratio plot: {hazards}")
    return (forest, curves, hazards)


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
