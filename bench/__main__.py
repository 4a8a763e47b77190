"""``python -m bench --size 10000 [--runs 3] [--pg/--no-pg] [--quick] [--cli/--no-cli]``.

Prints a markdown table and writes it to ``bench/out/results-<size>.md`` (and the raw
figures to ``results-<size>.json``, which a run at 10x the size reads for its RSS check).
Then, unless ``--no-cli``, the whole-process CLI latency table of :mod:`bench.cli_latency`
on a corpus of the same size, appended to the same report.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from bench import cli_latency
from bench.backends import Backend, PostgresBackend, SQLiteBackend, postgres_available
from bench.corpus import DEFAULT_SEED
from bench.report import load_peak_rss, render, save_json, targets
from bench.scenarios import DEFAULT_CHUNK, DEFAULT_THREADS, Bench

OUT = Path(__file__).resolve().parent / "out"


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="number of entities")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument(
        "--sweep-runs", type=int, default=1, help="runs per chunk-size/thread-count point"
    )
    parser.add_argument(
        "--pg", action=argparse.BooleanOptionalAction, default=True,
        help="also measure PostgreSQL on 127.0.0.1:5432 (skipped when it does not answer)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="one run each, no sweeps, no PostgreSQL sweeps"
    )
    parser.add_argument("--no-sweeps", action="store_true", help="skip the chunk/thread sweeps")
    parser.add_argument("--pg-sweeps", action="store_true", help="run the sweeps on PostgreSQL too")
    parser.add_argument(
        "--cli", action=argparse.BooleanOptionalAction, default=True,
        help="also time whole brainsync processes (bench.cli_latency)",
    )  # fmt: skip
    parser.add_argument("--cli-runs", type=int, default=5, help="runs per CLI row (median)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.no_sweeps = 1, True
    return args


def _backends(args: argparse.Namespace, bench: Bench) -> list[Backend]:
    work = bench.work / "db"
    found: list[Backend] = [SQLiteBackend(work, bench.seeder)]
    if args.pg:
        problem = postgres_available()
        if problem is None:
            found.append(PostgresBackend(work, bench.seeder))
        else:
            bench.results.notes.append(f"PostgreSQL skipped: {problem}")
    return found


def _run(args: argparse.Namespace, bench: Bench, backends: list[Backend]) -> None:
    started = time.perf_counter()
    bench.prepare()
    bench.baselines(backends)
    for backend in backends:
        sweeps = not args.no_sweeps and (backend.name == "sqlite" or args.pg_sweeps)
        bench.backend(backend, sweeps)
    bench.enqueue(backends)
    notes = bench.results.notes
    notes.append(cli_latency.revision())
    notes.append(
        f"defaults: chunk {DEFAULT_CHUNK}, {DEFAULT_THREADS} threads; "
        f"sequential: chunk 1, 1 thread on {bench.seq_n} items (per-item ratios)"
    )
    notes.append("tar -c is piped through cat: GNU tar writing to /dev/null skips reading files")
    notes.append("the atomic-writer floor runs just before each run of the first backend's "
                 "export; export/floor is the median of the run-by-run ratios")  # fmt: skip
    total = time.perf_counter() - started
    notes.append(f"{args.runs} run(s) per scenario, {args.sweep_runs} per sweep point; "
                 f"each run in a fresh process; total {total:.0f} s")  # fmt: skip


def _cli(args: argparse.Namespace) -> str:
    """The whole-process CLI table, on its own folders (removed unless ``--keep``)."""
    work = OUT / f"cli-work-{args.size}"
    try:
        return cli_latency.measure(args.size, args.cli_runs, work, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Run the benchmark, print the report and save it under ``bench/out``."""
    args = _arguments(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / f"work-{args.size}"
    shutil.rmtree(work, ignore_errors=True)
    bench = Bench(args.size, args.runs, args.sweep_runs, work, args.seed)
    backends = _backends(args, bench)
    try:
        _run(args, bench, backends)
    finally:
        for backend in backends:
            backend.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    previous = load_peak_rss(OUT / f"results-{args.size // 10}.json")
    text = render(bench.results, targets(bench.results, previous))
    if args.cli:
        text += "\n" + _cli(args)
    sys.stdout.write(text)
    (OUT / f"results-{args.size}.md").write_text(text, encoding="utf-8")
    save_json(bench.results, OUT / f"results-{args.size}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
