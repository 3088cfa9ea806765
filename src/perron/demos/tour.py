"""``perron demo --all`` (what ``make demo`` runs): every demo step, then one summary.

Each step is one scenario of the README's demo list. The tour runs them in order in
this process, each with its own hub and station processes, and goes on after a step
that fails with a :class:`~perron.protocol.errors.PerronError` (a missing optional
package, a port in use) so the summary shows every step; the exit code is 1 when any
step failed or did not write a plot it promises.

The summary says, per step, what it demonstrated and what it found, and lists the
plots with their paths, so a newcomer sees at the end what scrolled past.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from perron.protocol.errors import PerronError

__all__ = ["STEPS", "DemoStep", "StepReport", "run_step", "run_tour", "step_for", "summary"]


@dataclass(frozen=True)
class DemoStep:
    """One step of the tour.

    Attributes
    ----------
    option : str
        The ``perron demo`` option that runs this step alone ("" for the main study).
    title : str
        A short name.
    shows : str
        What the step demonstrates, in one sentence (the README lists the same).
    plots : tuple of str
        File names the step writes into the output folder.
    run : callable
        ``run(console, out)`` runs the step and returns a one-line finding.
    """

    option: str
    title: str
    shows: str
    plots: tuple[str, ...]
    run: Callable[[Console, Path], str]

    @property
    def command(self) -> str:
        """The command that runs this step alone."""
        return f"perron demo {self.option}".rstrip()


@dataclass(frozen=True)
class StepReport:
    """How one step went."""

    step: DemoStep
    seconds: float
    finding: str | None
    error: str | None
    plots: tuple[Path, ...]
    missing_plots: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """The step finished and wrote every plot it promises."""
        return self.error is None and not self.missing_plots


def _surveillance(console: Console, out: Path) -> str:
    from perron.demos.surveillance import main  # noqa: PLC0415

    outcome = main(console, out)
    alarms = ", ".join(str(s.week) for s in outcome.signals if s.alarm) or "none"
    return (
        f"outbreak reported from {outcome.outbreak_start}: first alarm "
        f"{outcome.first_alarm} (alarms {alarms}); other codes refused by policy"
    )


def _study(console: Console, out: Path) -> str:
    from perron.demos.study import main  # noqa: PLC0415 - each step imports only what it runs

    outcome = main(console, out)
    return (
        f"{outcome.simulated.glm.nobs} patients in the GLM; the network's figures equal "
        f"the simulation's (largest difference {outcome.largest_difference:.2g})"
    )


def _route(console: Console, out: Path) -> str:
    from perron.demos.route import main  # noqa: PLC0415

    outcome = main(console)
    tracks = ", ".join(f"{holder} {track}" for holder, track in outcome.tracks.items())
    return f"tracks: {tracks}; {len(outcome.refusals)} requests outside the policy refused"


def _linkage(console: Console, out: Path) -> str:
    from perron.demos.linkage import main  # noqa: PLC0415

    outcome = main(console)
    return (
        f"Bloom-filter linkage precision {outcome.bloom.precision:.3f}, recall "
        f"{outcome.bloom.recall:.3f}; {outcome.found_without_bsn} of "
        f"{outcome.true_without_bsn} patients without a BSN found"
    )


def _mpc(console: Console, out: Path) -> str:
    from perron.demos.mpc import run  # noqa: PLC0415

    outcome = run(console)
    return (
        f"{outcome.linked} linked patients; MPC coefficients equal the pooled fit's "
        f"(largest difference {outcome.max_difference:.2g})"
    )


def _findable(console: Console, out: Path) -> str:
    from perron.demos.findable import main  # noqa: PLC0415

    outcome = main(console)
    guard = "refused" if outcome.near_copy_refused else "NOT refused"
    return f"{len(outcome.found)} datasets found; a near-copy feasibility query {guard}"


def _prediction(console: Console, out: Path) -> str:
    from perron.demos.prediction import main  # noqa: PLC0415

    outcome = main(console, out)
    concordance = outcome.trained_validation.concordance
    return (
        f"observed/expected {_ratio(outcome.before.oe_ratio)} before recalibration, "
        f"{_ratio(outcome.after.oe_ratio)} after; FedAvg model's C {concordance:.3f}"
    )


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


#: The tour, in the order ``make demo`` runs it.
STEPS: tuple[DemoStep, ...] = (
    DemoStep(
        "",
        "a three-hospital study",
        "lifelines' lung cancer data at three hospitals through a real hub and three station "
        "processes: summary, logistic GLM, Kaplan-Meier, log-rank and Cox, each next to the "
        "same study simulated in one process",
        ("glm_forest.png", "km_by_sex.png", "cox_forest.png"),
        _study,
    ),
    DemoStep(
        "--route",
        "the study route",
        "one data request to three hospitals: every role's go/no-go, a no-go at the DPIA, "
        "policies signed by each holder and enforced by its station, an objection honoured, "
        "the public register",
        (),
        _route,
    ),
    DemoStep(
        "--linkage",
        "linkage before a study",
        "a hospital, an insurer and a pharmacy: BSN pseudonyms (holder key, then TTP key), "
        "the overlap report by private set intersection, a crosstab on linked records "
        "without pooling, Bloom-filter linkage for records without a BSN",
        (),
        _linkage,
    ),
    DemoStep(
        "--mpc",
        "vertical MPC",
        "a readmission model fitted on hospital + insurer columns by three MPyC processes "
        "(the pharmacy as helper), and a published model recalibrated on the linked cohort",
        (),
        _mpc,
    ),
    DemoStep(
        "--findable",
        "findable data of known quality",
        "OMOP data at three stations: a catalogue search, a feasibility count with its "
        "differencing guard, each station's data quality report",
        (),
        _findable,
    ),
    DemoStep(
        "--prediction",
        "prediction models",
        "a published post-infarction risk score validated on three hospitals' WHAS500 "
        "patients, recalibrated and validated again, and a model trained by FedAvg",
        ("calibration_before.png", "calibration_after.png"),
        _prediction,
    ),
    DemoStep(
        "--surveillance",
        "early warning across holders",
        "a GP network, a hospital and a laboratory under a signed surveillance policy: a "
        "weekly job at the hub pools their counts, Farrington flexible raises the alarm in "
        "the planted outbreak's first week, a nowcast corrects the last weeks for delay",
        ("surveillance.png", "surveillance_nowcast.png"),
        _surveillance,
    ),
)


def step_for(option: str) -> DemoStep:
    """The step that ``perron demo <option>`` runs ("" for the main study)."""
    return next(step for step in STEPS if step.option == option)


def run_step(step: DemoStep, console: Console, out: Path) -> StepReport:
    """Run one step; a Perron error becomes the step's error, not the tour's end."""
    console.rule(f"[bold]{step.command}[/bold]: {step.title}")
    console.print(f"[italic]{escape(step.shows)}[/italic]")
    started = time.time()
    finding: str | None = None
    error: str | None = None
    try:
        finding = step.run(console, out)
    except PerronError as exc:
        error = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]{step.command} failed[/red]: {escape(error)}")
    fresh = {name: _written_since(out / name, started) for name in step.plots}
    return StepReport(
        step,
        time.time() - started,
        finding,
        error,
        tuple(out / name for name, written in fresh.items() if written),
        tuple(name for name, written in fresh.items() if not written),
    )


def _written_since(path: Path, started: float) -> bool:
    """The plot exists and was written by this run (one left from an earlier run does not count)."""
    return path.is_file() and path.stat().st_mtime >= started - 1.0


def run_tour(
    console: Console, out: Path, steps: Sequence[DemoStep] = STEPS
) -> tuple[StepReport, ...]:
    """Run every step in order, then print the summary; return the reports."""
    out.mkdir(parents=True, exist_ok=True)
    reports = tuple(run_step(step, console, out) for step in steps)
    console.print(summary(reports, out))
    return reports


def summary(reports: Sequence[StepReport], out: Path) -> Group:
    """What the tour showed, step by step, and where the plots are."""
    failed = [r for r in reports if not r.ok]
    title = (
        f"What the demo showed ({len(reports)} steps, all passed)"
        if not failed
        else f"What the demo showed: {len(failed)} of {len(reports)} steps FAILED"
    )
    grid = Table(title=title, title_justify="left", title_style="bold")
    grid.add_column("step", no_wrap=True)
    grid.add_column("run alone with", no_wrap=True)
    grid.add_column("result")
    for report in reports:
        if report.error is not None:
            result = f"[red]failed[/red]: {escape(report.error)}"
        elif report.missing_plots:
            result = f"[red]did not write[/red] {', '.join(report.missing_plots)}"
        else:
            result = f"[green]ok[/green] ({report.seconds:.0f} s) {escape(report.finding or '')}"
        grid.add_row(report.step.title, report.step.command, result)
    plots = [
        f"  {path.resolve()}  ({report.step.title})" for report in reports for path in report.plots
    ]
    lines = [
        f"Plots ({len(plots)}), in {out.resolve()}:" if plots else "No plots were written.",
        *plots,
        "What each step demonstrates: README.md, section 'What make demo shows'.",
    ]
    return Group(grid, Text("\n".join(lines)))
