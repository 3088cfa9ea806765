"""``perron demo --all``: every step runs, a failing step does not hide the others, and
the summary says what each showed and where the plots are.

The real steps are tested one by one elsewhere (tests/test_main.py, tests/demos/test_route.py, ...)
and all together by CI's ``make demo-ci``; here the tour's own logic runs on small steps.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from perron.demos.tour import STEPS, DemoStep, run_tour
from perron.protocol.errors import MissingDependency

ROOT = Path(__file__).resolve().parents[2]


def _plotting(console: Console, out: Path) -> str:
    (out / "a.png").write_bytes(b"\x89PNG")
    return "wrote a.png"


def _missing(console: Console, out: Path) -> str:
    raise MissingDependency('x needs y. Install it with `pip install "perron[demo]"`.')


def _forgetful(console: Console, out: Path) -> str:
    return "wrote nothing"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200), buffer


def test_every_step_runs_and_the_summary_lists_results_and_plots(tmp_path):
    console, buffer = _console()
    steps = (
        DemoStep("--one", "first", "shows one", ("a.png",), _plotting),
        DemoStep("--two", "second", "shows two", (), lambda c, o: "two found"),
    )

    reports = run_tour(console, tmp_path, steps)

    assert [r.ok for r in reports] == [True, True]
    assert reports[0].plots == (tmp_path / "a.png",)
    text = buffer.getvalue()
    assert "What the demo showed (2 steps, all passed)" in text
    assert "perron demo --one" in text
    assert "wrote a.png" in text
    assert "two found" in text
    assert str((tmp_path / "a.png").resolve()) in text


def test_a_failing_step_is_reported_and_the_next_steps_still_run(tmp_path):
    console, buffer = _console()
    steps = (
        DemoStep("--broken", "broken", "", (), _missing),
        DemoStep("--one", "first", "", ("a.png",), _plotting),
    )

    reports = run_tour(console, tmp_path, steps)

    assert [r.ok for r in reports] == [False, True]
    assert reports[0].error is not None
    assert reports[0].error.startswith("MissingDependency: ")
    text = buffer.getvalue()
    assert "1 of 2 steps FAILED" in text
    assert 'pip install "perron[demo]"' in text  # rich markup does not eat "[demo]"


def test_a_step_that_does_not_write_its_plot_fails(tmp_path):
    console, buffer = _console()
    stale = tmp_path / "a.png"
    stale.write_bytes(b"old")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))  # a plot left from an earlier run does not count

    (report,) = run_tour(console, tmp_path, (DemoStep("", "x", "", ("a.png",), _forgetful),))

    assert not report.ok
    assert report.missing_plots == ("a.png",)
    assert "did not write a.png" in buffer.getvalue()


def test_the_tour_is_the_readme_list():
    readme = (ROOT / "README.md").read_text()

    assert [s.option for s in STEPS] == [
        "",
        "--route",
        "--linkage",
        "--mpc",
        "--findable",
        "--prediction",
        "--surveillance",
    ]
    for step in STEPS:
        assert f"`{step.command}`" in readme, step.command


@pytest.mark.parametrize(
    ("argv", "module", "package"),
    [
        (["demo", "--simulate"], "lifelines", "lifelines"),
        (["demo", "--prediction"], "sksurv", "scikit-survival"),
        (["demo", "--linkage"], "faker", "Faker"),
        # Every step's package missing: each step fails at once, the tour goes on.
        (["demo", "--all"], "lifelines,sksurv,faker", "Faker"),
    ],
)
def test_a_missing_demo_package_is_one_message_without_a_traceback(tmp_path, argv, module, package):
    code = (
        "import sys\n"
        f"for name in {module!r}.split(','):\n"
        "    sys.modules[name] = None\n"  # as if the package were not installed
        f"sys.argv = ['perron', *{[*argv, '--out', str(tmp_path)]!r}]\n"
        "from perron.__main__ import main\n"
        "main()\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"needs {package}, which is not installed" in " ".join(
        (done.stdout + done.stderr).split()
    )
    assert 'pip install "perron[demo]"' in done.stdout + done.stderr
    if "--all" in argv:
        # Every step but the surveillance one (core packages only) needs a demo package.
        assert f"{len(STEPS) - 1} of {len(STEPS)} steps FAILED" in done.stdout
