"""The cost of a durable entity store: a first import at ``durability = full`` and ``normal``.

``python -m bench.durability [--size 10000] [--runs 3]`` writes the corpus once, then
imports it into a new, empty SQLite store per run, alternating the two settings (so a
slow phase of the disk hits both alike), each import in a fresh process
(:mod:`bench.worker`, the import alone timed). Prints the median, the runs and the cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.corpus import DEFAULT_SEED, generate, write_files
from bench.scenarios import DEFAULT_CHUNK, DEFAULT_THREADS, run_child

__all__ = ["main"]

SETTINGS = ("full", "normal")


def _import(tree: Path, work: Path, durability: str, index: int) -> float:
    home = work / f"{durability}-{index}"
    spec = {
        "kind": "import",
        "dir": str(tree),
        "home": str(home),
        "db": f"sqlite:///{home / 'brain.sqlite'}",
        "chunk": DEFAULT_CHUNK,
        "threads": DEFAULT_THREADS,
        "durability": durability,
    }
    os.sync()  # no dirty pages of the run before
    result, _ = run_child(spec)
    if result.get("error"):
        raise RuntimeError(f"import at {durability}: {result['error']}")
    shutil.rmtree(home)
    return float(result["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="number of notes")
    parser.add_argument("--runs", type=int, default=3, help="runs of each setting (median)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    try:
        tree = work / "tree"
        write_files(generate(args.size, DEFAULT_SEED), tree)
        seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
        for index in range(args.runs):
            order = SETTINGS if index % 2 == 0 else SETTINGS[::-1]
            for name in order:
                seconds[name].append(_import(tree, work, name, index))
        print(f"first import of {args.size} notes, SQLite, {args.runs} runs each, alternating")
        print("| durability | median s | runs s |\n|---|---|---|")
        for name in SETTINGS:
            runs = ", ".join(f"{s:.2f}" for s in seconds[name])
            print(f"| `{name}` | {statistics.median(seconds[name]):.2f} | {runs} |")
        full, normal = (statistics.median(seconds[name]) for name in SETTINGS)
        print(f"cost of full: {full - normal:+.2f} s ({(full / normal - 1) * 100:+.1f}%)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
