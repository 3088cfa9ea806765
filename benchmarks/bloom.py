"""Bloom-filter (CLK) linkage: speed at 1e5 x 1e5, and precision / recall at 1e4 x 1e4.

Speed (default): two synthetic files of ``--size`` records (half of them the same
people, both with the default corruption), encoded with the default schema, compared
with keyed blocking on year of birth OR 4-digit postcode, and solved one-to-one.
Prints encodings per second, the comparisons the blocks imply, comparisons per second,
candidate pairs and every step's time.

Quality (``--evaluate``): the same kind of files at ``--size`` (default 10,000), for
each hardening (none, balance, XOR fold, both) without blocking and, for the default
hardening, with keyed and with bit blocking: precision, recall and F1 at several
Dice thresholds, as a markdown table.

Run: ``.venv/bin/python benchmarks/bloom.py`` and
``.venv/bin/python benchmarks/bloom.py --evaluate`` (figures in ``docs/bloom.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence

from perron.linkage import bloom, synthetic
from perron.linkage.bloom import matching

THRESHOLDS = (0.65, 0.70, 0.72, 0.75, 0.78, 0.80, 0.82, 0.85, 0.88, 0.90)
HARDENINGS = {
    "none": bloom.Hardening(balance=False, xor_fold=False),
    "balance (default)": bloom.Hardening(balance=True, xor_fold=False),
    "xor_fold": bloom.Hardening(balance=False, xor_fold=True),
    "balance + xor_fold": bloom.Hardening(balance=True, xor_fold=True),
}


def benchmark_secret(seed: int) -> bytes:
    """A fixed key per seed, so that the tables are reproducible; benchmark use only."""
    return hashlib.sha256(f"perron bloom benchmark {seed}".encode()).digest()


def implied_comparisons(
    keys_a: Sequence[tuple[str, ...]], keys_b: Sequence[tuple[str, ...]]
) -> int:
    """Comparisons anonlink makes: per block |A_block| x |B_block| (keyless = everywhere)."""
    count_a = Counter(k for row in keys_a for k in row)
    count_b = Counter(k for row in keys_b for k in row)
    blocks = set(count_a) | set(count_b)
    loose_a = sum(1 for row in keys_a if not row)
    loose_b = sum(1 for row in keys_b if not row)
    return sum((count_a[k] + loose_a) * (count_b[k] + loose_b) for k in blocks)


def speed(size: int, seed: int, unblocked_rows: int) -> None:
    secret = benchmark_secret(seed)
    schema = bloom.LinkageSchema()
    start = time.perf_counter()
    file_a, file_b = synthetic.linkage_pair(size, overlap=0.5, seed=seed)
    print(f"synthetic data: 2 x {size:,} records in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    clks_a = bloom.encode(file_a, schema, secret)
    clks_b = bloom.encode(file_b, schema, secret)
    took = time.perf_counter() - start
    print(
        f"encode: {2 * size:,} records in {took:.1f} s = {2 * size / took:,.0f} records/s "
        f"({schema.encoded_length} bits, balanced)"
    )

    start = time.perf_counter()
    keys_a = bloom.block_keys(file_a, secret)
    keys_b = bloom.block_keys(file_b, secret)
    print(f"block keys (year OR pc4): {time.perf_counter() - start:.1f} s")
    comparisons = implied_comparisons(keys_a, keys_b)
    print(f"comparisons within blocks: {comparisons:,} (of {size * size:,} without blocking)")

    threshold = schema.recommended_threshold
    blocking = bloom.KeyedBlocking(keys_a, keys_b)
    start = time.perf_counter()
    candidates = matching._candidates(clks_a, clks_b, threshold, blocking)
    took = time.perf_counter() - start
    print(
        f"candidates (Dice >= {threshold}): {len(candidates[0]):,} pairs in {took:.1f} s = "
        f"{comparisons / took:,.0f} comparisons/s (including anonlink's block bookkeeping)"
    )
    start = time.perf_counter()
    pairs = matching._solve(candidates, threshold)
    print(f"greedy solve: {len(pairs):,} matches in {time.perf_counter() - start:.1f} s")
    ids_a, ids_b = list(file_a["person_id"]), list(file_b["person_id"])
    score = bloom.quality(pairs, ids_a, ids_b, threshold)
    print(f"quality: precision {score.precision:.4f}, recall {score.recall:.4f}, F1 {score.f1:.4f}")
    if unblocked_rows:
        # The Dice kernel alone: the first rows of A against all of B, one block.
        rows = min(unblocked_rows, size)
        start = time.perf_counter()
        found = matching._candidates(clks_a[:rows], clks_b, threshold, None)
        took = time.perf_counter() - start
        print(
            f"unblocked: {rows:,} x {size:,} = {rows * size:,} comparisons in {took:.1f} s = "
            f"{rows * size / took:,.0f} comparisons/s ({len(found[0]):,} candidates)"
        )


def evaluate(size: int, seed: int) -> None:
    secret = benchmark_secret(seed)
    file_a, file_b = synthetic.linkage_pair(size, overlap=0.5, seed=seed)
    ids_a, ids_b = list(file_a["person_id"]), list(file_b["person_id"])
    print(f"{size:,} x {size:,} records, {round(size * 0.5):,} true pairs, seed {seed}\n")
    default = bloom.LinkageSchema()
    runs: list[tuple[str, str, bloom.LinkageSchema, Sequence[str] | bloom.BitBlocking | None]]
    runs = [
        (name, "none", bloom.LinkageSchema(hardening=h), None) for name, h in HARDENINGS.items()
    ]
    runs += [
        ("balance, random hashing", "none", bloom.LinkageSchema(hashing="random"), None),
        ("balance (default)", "keyed: year OR pc4", default, ("year", "pc4")),
        ("balance (default)", "keyed: year", default, ("year",)),
        ("balance (default)", "bits: 8 tables x 10 bits", default, bloom.BitBlocking()),
    ]
    print("Precision / recall by Dice threshold (bold: the recommended threshold):\n")
    print("| hardening | blocking | " + " | ".join(f"{t:.2f}" for t in THRESHOLDS) + " | s |")
    print("|---|---|" + "---|" * len(THRESHOLDS) + "---|")
    summary = []
    for name, label, schema, blocking in runs:
        start = time.perf_counter()
        scores = bloom.evaluate(file_a, file_b, ids_a, ids_b, schema, secret, THRESHOLDS, blocking)
        took = time.perf_counter() - start
        cells = []
        for score in scores:
            cell = f"{score.precision:.4f} / {score.recall:.4f}"
            if score.threshold == schema.recommended_threshold:
                cell = f"**{cell}**"
                summary.append((name, label, score))
            cells.append(cell)
        print(f"| {name} | {label} | " + " | ".join(cells) + f" | {took:.1f} |")
    print("\nAt the recommended threshold:\n")
    print("| hardening | blocking | threshold | precision | recall | F1 |")
    print("|---|---|---|---|---|---|")
    for name, label, score in summary:
        print(
            f"| {name} | {label} | {score.threshold:.2f} | {score.precision:.4f} | "
            f"{score.recall:.4f} | {score.f1:.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluate", action="store_true", help="precision/recall table")
    parser.add_argument("--size", type=int, default=None, help="records per file")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--unblocked-rows",
        type=int,
        default=10_000,
        help="speed: also compare this many records of A with all of B without blocking",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    if args.evaluate:
        evaluate(args.size or 10_000, args.seed)
    else:
        speed(args.size or 100_000, args.seed, args.unblocked_rows)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
