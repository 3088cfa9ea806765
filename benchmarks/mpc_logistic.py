"""Vertical logistic regression on MPyC: 3 processes on loopback, 10k rows x 10 features.

Holder 0 has five predictors and the outcome, holder 1 five predictors, party 2 is
the helper; they run as separate processes (``perron.mpc.runner.fit_vertical``).
The script prints the wall time (process start to result), the session time (all
connected to result), the time per Newton iteration and the largest deviation from
the pooled statsmodels fit. Target (issue 8): below 60 s at 10k x 10.

With ``--tno-python PATH`` it also runs TNO's ``tno.mpc.mpyc.secure_learning``
(``Logistic``, gradient descent) on the same data in that interpreter, which must
have the package installed (it pins its own MPyC, so give it a separate venv)::

    python -m venv /tmp/tno-venv
    /tmp/tno-venv/bin/pip install tno.mpc.mpyc.secure_learning "numpy<2"
    .venv/bin/python benchmarks/mpc_logistic.py --tno-python /tmp/tno-venv/bin/python

TNO's package holds one secure number per Python object and truncates with MPyC's
random bits, so ``--tno-rows`` (default 400) and ``--tno-iterations`` keep its
run short; the script extrapolates linearly in the rows, a lower bound (measured:
9 s per iteration at 400 rows, 255 s at 2,000).

Run: ``.venv/bin/python benchmarks/mpc_logistic.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from perron.mpc.runner import fit_vertical
from perron.mpc.spec import VerticalSpec

SLOPES = np.linspace(-0.4, 0.4, 10)

TNO_SCRIPT = """
import json, sys, time
import numpy as np
from mpyc.runtime import mpc
from tno.mpc.mpyc.secure_learning import ExponentiationTypes, Logistic


async def main(n, iterations, exact):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 10))
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + X @ np.linspace(-0.4, 0.4, 10)))))
    secfxp = mpc.SecFxp(64, 32)
    await mpc.start()
    start = time.perf_counter()
    empty = [[secfxp(None)] * 5 for _ in range(n)]
    a = [[secfxp(float(v)) for v in row] for row in X[:, :5]] if mpc.pid == 0 else empty
    b = [[secfxp(float(v)) for v in row] for row in X[:, 5:]] if mpc.pid == 1 else empty
    labels = [secfxp(float(2 * v - 1)) for v in y] if mpc.pid == 0 else [secfxp(None)] * n
    a = [mpc.input(row, senders=0) for row in a]
    b = [mpc.input(row, senders=1) for row in b]
    labels = mpc.input(labels, senders=0)
    rows = [ra + rb for ra, rb in zip(a, b)]
    kind = ExponentiationTypes.EXACT if exact else ExponentiationTypes.APPROX
    model = Logistic(exponentiation=kind)
    coef = await model.compute_coef_mpc(rows, labels, tolerance=1e-6, nr_maxiters=iterations)
    seconds = time.perf_counter() - start
    await mpc.shutdown()
    if mpc.pid == 0:
        print(json.dumps({"seconds": seconds, "coef": [float(c) for c in coef]}))


mpc.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "exact"))
"""


def cohort(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same synthetic cohort as the TNO script: holder 0 (a0-a4, y), holder 1 (b0-b4)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10))
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + x @ SLOPES))))
    hospital = pd.DataFrame(x[:, :5], columns=[f"a{i}" for i in range(5)]).assign(y=y)
    insurer = pd.DataFrame(x[:, 5:], columns=[f"b{i}" for i in range(5)])
    return hospital, insurer


def pooled(hospital: pd.DataFrame, insurer: pd.DataFrame) -> pd.Series:
    x = sm.add_constant(pd.concat([hospital.drop(columns="y"), insurer], axis=1))
    params: pd.Series = sm.Logit(hospital["y"], x).fit(disp=0).params
    return params.rename({"const": "Intercept"})


def run_tno(python: str, rows: int, iterations: int, exact: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "tno_logistic.py"
        script.write_text(TNO_SCRIPT)
        mode = "exact" if exact else "approx"
        command = [python, str(script), str(rows), str(iterations), mode, "-M3", "--no-log"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["no output"]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--tno-python", help="interpreter with tno.mpc.mpyc.secure_learning")
    parser.add_argument("--tno-rows", type=int, default=400)
    parser.add_argument("--tno-iterations", type=int, nargs=2, default=[1, 2])
    parser.add_argument("--tno-exact", action="store_true", help="TNO's secure exponent")
    args = parser.parse_args()

    hospital, insurer = cohort(args.rows)
    spec = VerticalSpec(
        "binomial",
        "y",
        (tuple(hospital.columns[:5]), tuple(insurer.columns)),
        ("hospital", "insurer"),
    )
    start = time.perf_counter()
    result = fit_vertical(hospital, insurer, spec)
    wall = time.perf_counter() - start
    reference = pooled(hospital, insurer)
    deviation = float(np.max(np.abs(result.params - reference[result.params.index])))
    per_iteration = ", ".join(f"{s:.1f}" for s in result.seconds)
    print(f"Perron (MPyC, 3 processes, {args.rows} rows x 10 features)")
    print(f"  wall time, process start to result: {wall:.1f} s")
    print(f"  session time, connected to result:  {result.total_seconds:.1f} s")
    print(f"  Newton iterations: {result.iterations}; seconds each: {per_iteration}")
    print(f"  mean per iteration: {np.mean(result.seconds):.2f} s")
    print(f"  max |coef - statsmodels|: {deviation:.1e}")
    print(f"  target < 60 s: {'met' if wall < 60 else 'NOT met'}")

    if args.tno_python:
        few, more = args.tno_iterations
        print(f"TNO secure_learning (gradient descent, {args.tno_rows} rows x 10 features)")
        runs = [run_tno(args.tno_python, args.tno_rows, k, args.tno_exact) for k in (few, more)]
        if any("error" in run for run in runs):
            print(f"  did not run: {[run.get('error') for run in runs]}")
            return
        step = (runs[1]["seconds"] - runs[0]["seconds"]) / (more - few)
        setup = runs[0]["seconds"] - few * step
        scale = args.rows / args.tno_rows
        print(
            f"  {few} iteration(s): {runs[0]['seconds']:.1f} s; {more}: {runs[1]['seconds']:.1f} s"
        )
        print(f"  per iteration: {step:.1f} s; set-up: {setup:.1f} s")
        print(
            f"  linear extrapolation (a lower bound) to {args.rows} rows: {step * scale:.0f} s "
            "per iteration "
            f"(Perron: {np.mean(result.seconds):.1f} s), set-up {setup * scale:.0f} s"
        )


if __name__ == "__main__":
    main()
