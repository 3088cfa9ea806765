"""SQL push-down: a federated summary and one GLM round on a 10-million-row table.

The table (``cohort``: id, age, bmi with 1% missing, sex, a 0/1 outcome) is
generated inside DuckDB, never in pandas, and stored in a DuckDB file. Three
variants answer the same questions — the summary of age and bmi (n, missing, mean,
variance, min, max; through ``perron.simulate``) and one IRLS round of a logistic
model ``y ~ age + bmi + sex`` at a fixed coefficient vector (X'WX, X'Wz, deviance,
log-likelihood; the GLM station step):

- ``sqlsource``: :class:`perron.data.sql.SqlSource` over the file (SQL pushed down);
- ``duckdb``: two hand-written DuckDB aggregate queries of the same sums (the floor);
- ``pandas``: the table loaded into pandas, then :class:`~perron.data.frame.FrameSource`.

Each variant runs in its own subprocess twice: once for time (the median of
``--repeats`` runs after a warm-up; the pandas load is timed apart) and peak RSS
(``getrusage`` maxrss), once under ``tracemalloc`` for the peak of Python
allocations. Target (issue 9): sqlsource <= 1.5x the DuckDB queries, and memory flat
in the number of rows (compare the 1M and 10M rows).

DuckDB keeps the blocks of the file it read cached (up to its ``memory_limit``, by
default 80% of the RAM), so the process RSS of the DuckDB variants grows with the
file until that limit; ``--memory-limit 100MB`` shows the bound.

Run: ``.venv/bin/python benchmarks/pushdown.py`` (``--rows 1000000`` for one size;
``--dir`` for where the DuckDB files go, default a folder in the system temp dir;
``--check`` compares the GLM sums with pandas').
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

VARIANTS = ("duckdb", "sqlsource", "pandas")
BETA = [-3.0, 0.04, 0.05, 0.1]

# A deterministic uniform in (0, 1) per row and stream: no random() state, no pandas.
_UNIFORM = "((hash(i * 4 + {k}) % 1000003) + 0.5) / 1000003.0"
GENERATE = f"""
CREATE TABLE cohort AS
SELECT id, age, bmi, sex,
       CASE WHEN u < 1.0 / (1.0 + exp(-(-3.0 + 0.04 * age + 0.05 * coalesce(bmi, 25.0)
                                          + 0.1 * (sex = 'M')::INTEGER))) THEN 1 ELSE 0 END AS y
FROM (
    SELECT i AS id,
           40.0 + 40.0 * {_UNIFORM.format(k=0)} AS age,
           CASE WHEN {_UNIFORM.format(k=1)} < 0.01 THEN NULL
                ELSE 18.0 + 20.0 * {_UNIFORM.format(k=2)} END AS bmi,
           CASE WHEN {_UNIFORM.format(k=3)} < 0.5 THEN 'F' ELSE 'M' END AS sex,
           {_UNIFORM.format(k=5)} AS u
    FROM range(?) t(i)
)
"""

SUMMARY_SQL = """
SELECT count(*),
       count(age), avg(age), var_samp(age), min(age), max(age),
       count(bmi), avg(bmi), var_samp(bmi), min(bmi), max(bmi)
FROM cohort
"""

GLM_SQL = """
WITH d AS (
    SELECT age, bmi, CASE WHEN sex = 'M' THEN 1.0 ELSE 0.0 END AS m, y::DOUBLE AS y,
           ? + ? * age + ? * bmi + ? * CASE WHEN sex = 'M' THEN 1.0 ELSE 0.0 END AS eta
    FROM cohort
    WHERE age IS NOT NULL AND bmi IS NOT NULL AND sex IS NOT NULL AND y IS NOT NULL
), f AS (
    SELECT *, 1.0 / (1.0 + exp(-eta)) AS mu FROM d
), g AS (
    SELECT *, mu * (1.0 - mu) AS w, eta + (y - mu) / (mu * (1.0 - mu)) AS z FROM f
)
SELECT count(*),
       sum(w), sum(w * age), sum(w * bmi), sum(w * m),
       sum(w * age * age), sum(w * age * bmi), sum(w * age * m),
       sum(w * bmi * bmi), sum(w * bmi * m), sum(w * m * m),
       sum(w * z), sum(w * age * z), sum(w * bmi * z), sum(w * m * z),
       sum(y * ln(mu) + (1.0 - y) * ln(1.0 - mu)),
       sum((y - mu) * (y - mu) / (mu * (1.0 - mu)))
FROM g
"""


def generate(path: Path, rows: int) -> None:
    """Write the table into a DuckDB file (inside DuckDB: no pandas)."""
    if path.exists():
        return
    with duckdb.connect(str(path)) as connection:
        connection.execute(GENERATE, [rows])


# -- one variant, in a subprocess ---------------------------------------------------------


def _analysis(source: Any, data: Any = None) -> tuple[Any, Any]:
    """The federated summary (over ``data``: what ``perron.simulate`` takes, default
    ``source``) and one GLM station round over a data source."""
    import perron
    from perron.algorithms.core.base import StationContext
    from perron.algorithms.regression.glm import GLM
    from perron.data.design import Design, Term
    from perron.privacy.policy import DisclosurePolicy

    station = source if data is None else data
    summary = perron.simulate({"north": station}).summary(["age", "bmi"], quantiles=None)
    design = Design(
        "y", (Term("Intercept"), Term("age", "age"), Term("bmi", "bmi"), Term("M", "sex", "M"))
    )
    params = {"step": "irls", "design": design.to_wire(), "beta": BETA, "family": "binomial"}
    glm = GLM.station_step(source, params, StationContext("north", DisclosurePolicy()))
    return summary.table, glm.payload


def _plain(connection: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    return connection.execute(SUMMARY_SQL).fetchall(), connection.execute(GLM_SQL, BETA).fetchall()


def child(variant: str, path: Path, repeats: int, traced: bool, limit: str) -> dict[str, Any]:
    """Time (or trace) one variant; returns the figures as a dict.

    Perron is imported only by the variants that use it, so the DuckDB figures are
    DuckDB's alone (importing Perron, pandas and scipy costs ~150 MiB of RSS); the
    imports are neither timed nor traced.
    """
    if variant != "duckdb":  # imports (also the lazy ones) are not timed or traced
        import pandas as pd

        from perron.data.frame import FrameSource
        from perron.data.sql import SqlSource

        rng = np.random.default_rng(0)
        tiny = pd.DataFrame(
            {
                "age": rng.uniform(40, 80, 60),
                "bmi": rng.uniform(18, 38, 60),
                "sex": ["F", "M"] * 30,
                "y": [0, 1, 1] * 20,
            }
        )
        _analysis(FrameSource(tiny), tiny)
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    run: Any
    config: dict[str, str | bool | int | float | list[str]] = {}
    if limit:
        config["memory_limit"] = limit
    if variant == "duckdb":
        connection = duckdb.connect(str(path), read_only=True, config=config)

        def run() -> Any:
            return _plain(connection)

    elif variant == "sqlsource":
        opened_db = duckdb.connect(str(path), read_only=True, config=config)
        sql = SqlSource.from_duckdb(opened_db, table="cohort")

        def run() -> Any:
            return _analysis(sql)

    else:
        with duckdb.connect(str(path), read_only=True) as connection:
            frame = connection.table("cohort").df()
        source = FrameSource(frame)

        def run() -> Any:
            return _analysis(source, frame)

    opened = time.perf_counter() - start
    times = []
    for _ in range(1 if traced else repeats + 1):  # the first run warms up
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    return {
        "variant": variant,
        "open": opened,
        "run": statistics.median(times[1:]) if len(times) > 1 else times[0],
        "traced_peak": peak,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def measure(variant: str, path: Path, repeats: int, limit: str) -> dict[str, Any]:
    """Run the variant in fresh subprocesses (so figures do not mix) and merge them."""
    figures: dict[str, Any] = {}
    for traced in (False, True):
        command = [sys.executable, __file__, "--child", variant, str(path), str(repeats), limit]
        if traced:
            command.append("--traced")
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if traced:
            figures["traced_peak"] = result["traced_peak"]
        else:
            figures.update(result)
    return figures


def check_same(path: Path) -> float:
    """The largest relative difference between SqlSource's and pandas' GLM sums."""
    from perron.data.frame import FrameSource
    from perron.data.sql import SqlSource

    with duckdb.connect(str(path), read_only=True) as connection:
        frame = connection.table("cohort").df()
    with SqlSource.from_duckdb(path, table="cohort") as sql:
        _, pushed = _analysis(sql)
    _, loaded = _analysis(FrameSource(frame), frame)
    a = np.asarray(pushed["xtwx"] + [pushed["xtwz"]], dtype=object)
    b = np.asarray(loaded["xtwx"] + [loaded["xtwz"]], dtype=object)
    return float(
        max(
            np.max(np.abs(np.asarray(x) - np.asarray(y)) / np.abs(np.asarray(y)))
            for x, y in zip(a, b, strict=True)
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "perron-pushdown")
    parser.add_argument("--check", action="store_true", help="compare the GLM sums too")
    parser.add_argument(
        "--memory-limit",
        default="",
        help="DuckDB's memory_limit (e.g. 100MB) for the duckdb and sqlsource variants; "
        "by default DuckDB keeps the file's blocks cached up to 80%% of the RAM",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    mib = 1024 * 1024
    print(
        f"{'rows':>10} {'variant':>10} {'open s':>8} {'run s':>8} {'total s':>8} "
        f"{'traced MiB':>11} {'maxrss MiB':>11}"
    )
    for rows in args.rows:
        path = args.dir / f"cohort_{rows}.duckdb"
        generate(path, rows)
        figures = {v: measure(v, path, args.repeats, args.memory_limit) for v in VARIANTS}
        for variant, f in figures.items():
            f["total"] = f["open"] + f["run"]
            print(
                f"{rows:>10} {variant:>10} {f['open']:8.3f} {f['run']:8.3f} {f['total']:8.3f} "
                f"{f['traced_peak'] / mib:11.1f} {f['maxrss'] / mib:11.1f}"
            )
        sql, plain, pandas = figures["sqlsource"], figures["duckdb"], figures["pandas"]
        print(
            f"{rows:>10} sqlsource / duckdb: run {sql['run'] / plain['run']:.2f}x, "
            f"total {sql['total'] / plain['total']:.2f}x; "
            f"pandas / sqlsource: total {pandas['total'] / sql['total']:.1f}x, "
            f"maxrss {pandas['maxrss'] / sql['maxrss']:.1f}x; sqlsource - duckdb maxrss "
            f"{(sql['maxrss'] - plain['maxrss']) / mib:.0f} MiB"
        )
        if args.check:
            print(f"{rows:>10} largest relative difference of the GLM sums: {check_same(path):.1e}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        variant, path, repeats, limit = (
            sys.argv[2],
            Path(sys.argv[3]),
            int(sys.argv[4]),
            sys.argv[5],
        )
        print(json.dumps(child(variant, path, repeats, "--traced" in sys.argv, limit)))
    else:
        main()
