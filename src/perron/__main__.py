"""The ``perron`` command line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Perron: federated analysis where the data stays at the station.")


@app.callback()
def _root() -> None:
    """Perron command line."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the plots.")] = Path("out"),
) -> None:
    """Run a simulated three-hospital study on the real lung cancer data."""
    from perron.demo import lung_stations  # noqa: PLC0415 - keep `perron --help` fast
    from perron.plots import glm_forest_plot  # noqa: PLC0415
    from perron.privacy.policy import DisclosurePolicy  # noqa: PLC0415
    from perron.simulation import simulate  # noqa: PLC0415

    console = Console(width=max(Console().width, 120))
    stations = lung_stations()
    sizes = ", ".join(f"{name} ({len(frame)} rows)" for name, frame in stations.items())
    console.print(f"[bold]Perron demo[/bold]: lung cancer data at {sizes}")
    # Each hospital's data holder: the default thresholds, and survival times that
    # leave the hospital only rounded up to whole weeks (single events allowed at
    # that resolution).
    policy = DisclosurePolicy(event_times="rounded", time_grid=7.0, min_events=1)
    console.print(f"Disclosure settings at every station: {policy}")
    session = simulate(stations, disclosure=policy)

    summary = session.summary(["age", "ph_karno", "wt_loss"])
    console.print(_rich_table("Summary (per station and combined)", summary.table.reset_index()))

    model = session.glm("status ~ age + sex + ph_ecog + wt_loss", family="binomial")
    table = model.summary().reset_index(names="term")
    console.print(
        _rich_table(
            f"Logistic GLM of death during follow-up: n={model.nobs}, "
            f"dropped {dict(model.dropped_per_station)}, {model.iterations} iterations",
            table,
        )
    )
    path = glm_forest_plot(model, out / "glm_forest.png", exponentiate=True)
    console.print(f"Forest plot written to {path}")

    km = session.kaplan_meier("time", "status", by="sex", times=[180, 365, 730])
    medians = km.median.reset_index(names="sex (1 = male, 2 = female)")
    console.print(_rich_table("Kaplan-Meier median survival in days (95% CI)", medians))
    at_times = km.survival_at().reset_index()
    console.print(_rich_table("Survival at 180, 365 and 730 days", at_times))
    km.plot(out / "km_by_sex.png")
    rank = session.logrank("time", "status", "sex")
    console.print(
        f"Log-rank test by sex: chi2 {rank.statistic:.4g} on {rank.df} df, p={rank.p_value:.3g}"
    )
    console.print(f"Kaplan-Meier plot written to {out / 'km_by_sex.png'}")

    cox = session.coxph("time", "status", ["age", "sex", "ph_ecog"], ties="efron")
    columns = ["coef", "exp(coef)", "se(coef)", "z", "p"]
    lr = cox.likelihood_ratio_test
    console.print(
        _rich_table(
            f"Cox model of survival (Efron ties): n={cox.nobs}, {cox.n_events} events; "
            f"LR test {lr.statistic:.4g} on {lr.df} df (p={lr.p_value:.3g}); "
            f"concordance within hospitals {cox.concordance:.3f}; times rounded to weeks",
            cox.summary()[columns].reset_index(names="term"),
        )
    )
    console.print(f"Hazard-ratio plot written to {cox.plot(out / 'cox_forest.png')}")


def _rich_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for _, row in frame.iterrows():
        table.add_row(*(_cell(v) for v in row))
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
