"""The standing job from the researcher's side: defined at a real hub, found due, run,
published and recorded once; a job that cannot run is reported and the others still run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from perron.client.surveillance import Run, Runner, SurveillanceJob, define
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import InputError
from perron.protocol.http import check
from perron.sandbox.localnet import LocalNetwork
from perron.surveillance.synthetic import synthetic_surveillance
from perron.surveillance.weeks import IsoWeek

CASE = [{"column": "icd10", "in": ["A02.0"]}]
#: The week the hub says is due now for a job on Mondays at 00:00 UTC: the last whole week.
DUE = IsoWeek.of(datetime.now(UTC)) + -1


@pytest.fixture(scope="module")
def network():
    data = synthetic_surveillance(DUE + -60, DUE, outbreak=None, seed=7)
    with LocalNetwork(data.frames, disclosure=DisclosurePolicy(min_cell=3)) as running:
        yield running


def test_a_due_job_runs_once_and_its_signal_is_on_the_board(network):
    client = network.researcher_client()
    job = SurveillanceJob(
        "weekly-ears",
        network.study,
        title="Salmonella, EARS C1",
        counts={"case": CASE, "date": "report", "first": str(DUE + -60)},
        method="ears_c1",
        options={"alpha": 0.01},
        weekday=1,
        hour=0,
    )
    define(client, job)
    seen: list[Run] = []
    runner = Runner(client, lambda study: network.connect(), report=seen.append)

    runs = runner.run_due()
    again = runner.run_due()

    (run,) = runs
    assert run.error is None
    assert run.week == DUE
    assert run.signal is not None
    assert run.signal.detection.weeks[-1] == DUE
    assert seen == runs
    assert again == []  # the week is recorded: nothing is due until the next slot
    board = client.get(f"/api/studies/{network.study}/results/{run.result_id}")
    check(board)
    assert board.json()["kind"] == "surveillance"
    shown = client.get(f"/api/studies/{network.study}/surveillance/{job.name}")
    check(shown)
    assert [r["week"] for r in shown.json()["runs"]] == [str(DUE)]
    client.close()


def test_a_job_that_cannot_run_is_reported_and_the_others_still_run(network):
    client = network.researcher_client()
    short = SurveillanceJob(
        "too-short",
        network.study,
        title="Farrington with two months of history",
        counts={"case": CASE, "date": "report", "first": str(DUE + -8)},
        weekday=1,
        hour=0,
    )
    fine = SurveillanceJob(
        "fine",
        network.study,
        title="EARS C2",
        counts={"case": CASE, "date": "report", "first": str(DUE + -60)},
        method="ears_c2",
        weekday=1,
        hour=0,
    )
    for job in (short, fine):
        define(client, job)
    runner = Runner(client, lambda study: network.connect())

    runs = {run.job: run for run in runner.run_due()}

    assert runs["too-short"].error is not None
    assert runs["too-short"].error.startswith("InputError: ")
    assert runs["fine"].error is None
    assert runner.due()[0][0].name == "too-short"  # not recorded: due again
    client.close()


def test_a_job_says_what_is_wrong_with_it():
    with pytest.raises(InputError, match="leave 'last' out"):
        SurveillanceJob(
            "j",
            "s",
            title="t",
            counts={"case": CASE, "date": "d", "first": "2024-W01", "last": "2024-W09"},
        )
    with pytest.raises(InputError, match="need 'first'"):
        SurveillanceJob("j", "s", title="t", counts={"case": CASE, "date": "d"})
    with pytest.raises(InputError, match="weekday"):
        SurveillanceJob(
            "j", "s", title="t", counts={"case": CASE, "date": "d", "first": "x"}, weekday=8
        )


def test_the_command_line_defines_lists_shows_and_runs_jobs(network, tmp_path):
    import json

    from typer.testing import CliRunner

    from perron.__main__ import app
    from perron.client.connect import hub_client, log_in
    from perron.sandbox.localnet import RESEARCHER

    with hub_client(network.url) as client:
        token = log_in(client, RESEARCHER, network.password)
    env = {"PERRON_HUB_URL": network.url, "PERRON_TOKEN": token}
    job = tmp_path / "job.json"
    spec = {"case": CASE, "date": "report", "first": str(DUE + -60)}
    job.write_text(
        json.dumps(
            {
                "title": "EARS C3",
                "counts": spec,
                "detection": {"method": "ears_c3"},
                "weekday": 1,
                "hour": 0,
            }
        )
    )
    runner = CliRunner()
    study = ["--study", network.study]

    defined = runner.invoke(
        app, ["surveillance", "define", str(job), *study, "--job", "cli"], env=env
    )
    ran = runner.invoke(app, ["surveillance", "run"], env=env)
    listed = runner.invoke(app, ["surveillance", "jobs", *study], env=env)
    shown = runner.invoke(app, ["surveillance", "show", *study, "--job", "cli"], env=env)
    missing = runner.invoke(app, ["surveillance", "jobs", *study], env={"PERRON_TOKEN": ""})

    assert defined.exit_code == 0, defined.output
    assert "job " in defined.output
    assert ran.exit_code in (0, 1), ran.output  # other tests' jobs may be due and failing
    assert f"cli {DUE}: " in ran.output
    assert listed.exit_code == 0
    assert f"cli: last week {DUE}" in listed.output
    assert json.loads(shown.output)["runs"][0]["week"] == str(DUE)
    assert missing.exit_code != 0
    assert "PERRON_TOKEN" in missing.output
