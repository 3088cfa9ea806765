"""Early warning across holders: ``perron demo --surveillance``.

A GP network, a hospital and a laboratory in the northern Netherlands keep their
own case records (:mod:`perron.surveillance.synthetic`: five years of salmonella
enteritis, A02.0, with its yearly cycle, and an outbreak planted in NL113 that is
reported from 2025-W15 on). On a real hub and three station processes on 127.0.0.1:

1. a public-health institute asks each holder, through the study route, for a
   standing weekly count (purpose public health; the codes, the history and the
   terms fixed); every holder's approvers sign the policy, and each station runs
   only weekly counts within it;
2. the institute defines the weekly job at the hub (Farrington flexible with
   Noufaily's settings on the pooled count of cases notified per ISO week), and
   its runner assesses the weeks 2025-W08 to W20 one after the other, as the
   weekly schedule would: counts at the stations (small cells suppressed by each
   holder's rule), detection on the pooled series, the signal published to the
   study and the run recorded at the hub;
3. the alarm is raised in 2025-W15, the outbreak's first week, and not before;
   a task asking other codes is refused by the stations' policies; a nowcast of
   the recent weeks by week of onset corrects them for reporting delay.

Plots: ``surveillance.png`` (observed, expected, threshold and alarms of the last
signal) and ``surveillance_nowcast.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from perron.algorithms.surveillance.signal import Signal
from perron.client.surveillance import Runner, SurveillanceJob, define
from perron.demos.route import People, create_people, walk_route
from perron.governance.surveillance import surveillance_request
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import OutsidePolicy
from perron.protocol.http import check
from perron.sandbox.localnet import RESEARCH_ORG, RESEARCHER, LocalNetwork
from perron.surveillance.nowcast import Nowcast
from perron.surveillance.synthetic import synthetic_surveillance
from perron.surveillance.weeks import IsoWeek, week_range

STUDY = "salmonella-watch"
#: Station -> its holder organisation.
HOLDERS = {"gp_network": "gp-north", "hospital": "umcg-demo", "laboratory": "lab-north"}
CASE = [{"column": "icd10", "in": ["A02.0"]}]
#: The job's weekly count: cases by ISO week of notification since 2020.
COUNTS: dict[str, Any] = {"case": CASE, "date": "report", "first": "2020-W01"}
#: The reporting triangle the policy also allows: week of onset x weeks of delay.
TRIANGLE: dict[str, Any] = {"date": ["onset"], "report_date": ["report"], "max_delay": [4]}
#: The triangle's small cells would nearly all be suppressed: it is counted with noise
#: instead (OpenDP's discrete Laplace, this epsilon a query, from a budget of 60 queries).
TRIANGLE_EPSILON = 1.0
METHOD = "farrington_flexible"
#: Noufaily et al. (2012)'s improvements: 10 seasonal periods, the last 26 weeks out.
OPTIONS: dict[str, Any] = {"alpha": 0.01, "no_periods": 10, "past_weeks_not_included": 26}
WEEKS = week_range(IsoWeek(2025, 8), IsoWeek(2025, 20))
#: Every holder suppresses counts of 1 and 2.
DISCLOSURE = DisclosurePolicy(min_cell=3)
COLUMNS = ["patient_id", "onset", "report", "icd10", "age", "region"]


@dataclass(frozen=True)
class SurveillanceOutcome:
    """What the demo showed (its test checks it)."""

    tracks: dict[str, str]
    signals: list[Signal]
    outbreak_start: IsoWeek
    refusal: str | None
    nowcast: Nowcast
    jobs: list[dict[str, Any]]
    plots: list[Path]

    @property
    def first_alarm(self) -> IsoWeek | None:
        return next((s.week for s in self.signals if s.alarm), None)


def _request() -> Any:
    return surveillance_request(
        title="Salmonella enteritis in the north, weekly",
        applicant=RESEARCHER,
        organisation=RESEARCH_ORG,
        holders=dict.fromkeys(HOLDERS.values(), "cases"),
        counts=COUNTS,
        alternatives=TRIANGLE,
        columns=COLUMNS[1:],
        start=date(2025, 1, 1),
        end=date(2027, 12, 31),
        purpose_description="Early warning of food-borne outbreaks (Wpg art. 6).",
        case_description="salmonella enteritis (ICD-10 A02.0)",
        epsilon=TRIANGLE_EPSILON,
        privacy_budget=60 * TRIANGLE_EPSILON,
    )


def run_surveillance(console: Console, out: Path) -> SurveillanceOutcome:
    """The whole demo on a fresh local network."""
    data = synthetic_surveillance()
    assert data.outbreak is not None
    people = People()
    network = LocalNetwork(
        data.frames,
        disclosure=DISCLOSURE,
        study=STUDY,
        organisations=HOLDERS,
        station_settings={s: people.signers_toml(h, "cases") for s, h in HOLDERS.items()},
        create_study=False,
    )
    with console.status("starting a hub and three station processes on 127.0.0.1 ..."):
        network.start()
    try:
        console.print(f"web interface while this demo runs: {network.url}/ui/")
        create_people(network, people, HOLDERS.values())
        console.print("[bold]1. The surveillance policy[/bold] along the study route")
        _, tracks = walk_route(
            network,
            people,
            console,
            request=_request(),
            study=STUDY,
            refusing=None,
            sent_back=None,
        )
        client = network.researcher_client()
        job = SurveillanceJob(
            "salmonella",
            STUDY,
            title="Salmonella enteritis (A02.0), north",
            counts=COUNTS,
            method=METHOD,
            options=OPTIONS,
        )
        define(client, job)
        console.print(
            f"[bold]2. The weekly job[/bold] {STUDY}/{job.name}: {METHOD} {OPTIONS}, run for "
            f"{WEEKS[0]} to {WEEKS[-1]} as the schedule would"
        )
        runner = Runner(client, lambda study: network.connect(progress=False))
        signals = [_run_week(runner, job, week) for week in WEEKS]
        console.print(_signal_table(signals, data.outbreak.start))
        response = client.get(f"/api/studies/{STUDY}/surveillance")
        check(response)
        jobs: list[dict[str, Any]] = response.json()
        client.close()
        session = network.connect(progress=False)
        try:
            refusal = _refused(session)
            console.print(f"[bold]3. Other codes[/bold] (A0*): {refusal}")
            counts = session.weekly_counts(
                case=CASE,
                date="onset",
                first="2020-W01",
                last=str(WEEKS[-1]),
                report_date="report",
                max_delay=4,
                epsilon=TRIANGLE_EPSILON,
            )
        finally:
            session.close()
        nowcast = counts.nowcast(weeks=6)
        console.print("[bold]4. Nowcast[/bold] of the last weeks by week of onset")
        console.print(nowcast.to_frame().round(1).to_string())
        last = signals[-1]
        plots = [
            _save(last.counts.plot(last.detection), out / "surveillance.png"),
            _save_nowcast(nowcast, out / "surveillance_nowcast.png"),
        ]
    finally:
        network.close()
    return SurveillanceOutcome(tracks, signals, data.outbreak.start, refusal, nowcast, jobs, plots)


def _run_week(runner: Runner, job: SurveillanceJob, week: IsoWeek) -> Signal:
    run = runner.run(job, week)
    assert run.signal is not None
    return run.signal


def _refused(session: Any) -> str | None:
    try:
        session.weekly_counts(
            case=[{"column": "icd10", "prefix": ["A0"]}],
            date="report",
            first="2020-W01",
            last=str(WEEKS[-1]),
        )
    except OutsidePolicy as error:
        return str(error)
    return None


def _signal_table(signals: list[Signal], start: IsoWeek) -> Table:
    table = Table("week", "observed", "expected", "threshold", "signal", title="weekly runs")
    for signal in signals:
        at = list(signal.detection.weeks).index(signal.week)
        d = signal.detection
        planted = " (outbreak reported from here)" if signal.week == start else ""
        table.add_row(
            str(signal.week),
            f"{d.observed[at]:.0f}",
            f"{d.expected[at]:.1f}",
            f"{d.upperbound[at]:.1f}",
            ("[red]ALARM[/red]" if signal.alarm else "-") + planted,
        )
    return table


def _save(ax: Any, path: Path) -> Path:
    from perron.plots.figure import save  # noqa: PLC0415 - matplotlib only when plotting

    return save(ax.get_figure(), path, tight=True)


def _save_nowcast(nowcast: Nowcast, path: Path) -> Path:
    from perron.plots.figure import plt, save  # noqa: PLC0415

    figure, ax = plt.subplots(figsize=(8, 3.6))
    frame = nowcast.to_frame()
    x = list(range(len(frame)))
    ax.bar(x, frame["reported"], color="#9db4cc", label="reported so far")
    ax.errorbar(
        x,
        frame["estimate"],
        yerr=[frame["estimate"] - frame["lower"], frame["upper"] - frame["estimate"]],
        fmt="o",
        color="#2b5d8a",
        capsize=3,
        label=f"nowcast ({nowcast.level:.0%} interval)",
    )
    ax.set_xticks(x, list(frame.index))
    ax.set_ylabel("cases by week of onset")
    ax.legend(frameon=False, fontsize=8)
    return save(figure, path, tight=True)


def main(console: Console, out: Path) -> SurveillanceOutcome:
    """``perron demo --surveillance``."""
    console.print(
        "[bold]Perron demo: early warning across holders[/bold] (synthetic salmonella "
        "cases at a GP network, a hospital and a laboratory; a hub and three stations)"
    )
    outcome = run_surveillance(console, out)
    first = outcome.first_alarm
    console.print(
        f"first alarm: {first} (outbreak reported from {outcome.outbreak_start}); plots: "
        + ", ".join(str(p) for p in outcome.plots)
    )
    return outcome
