"""The cost of durability: a first import and a first export at ``full`` and ``normal``.

``python -m bench.durability [--size 10000] [--runs 3]`` writes the corpus once, then
imports it into a new, empty SQLite store per run, and exports a store holding it into a
new, empty folder per run, alternating the two settings (so a slow phase of the disk hits
both alike), each run in a fresh process (:mod:`bench.worker`, the operation alone
timed). Prints the median, the runs and the cost of ``full``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.corpus import DEFAULT_SEED as SEED
from bench.corpus import generate, write_files
from bench.scenarios import DEFAULT_CHUNK, DEFAULT_THREADS, run_child

__all__ = ["main"]

SETTINGS = ("full", "normal")


def _run(kind: str, tree: Path, work: Path, durability: str, seeded: Path | None) -> float:
    """One first ``kind`` (import of ``tree``, or export of the ``seeded`` store)."""
    home = work / f"{kind}-{durability}"
    home.mkdir()
    db = home / "brain.sqlite"
    if seeded is not None:
        shutil.copyfile(seeded, db)
    folder = tree if kind == "import" else home / "folder"
    folder.mkdir(exist_ok=True)
    spec = {
        "kind": kind,
        "dir": str(folder),
        "home": str(home),
        "db": f"sqlite:///{db}",
        "chunk": DEFAULT_CHUNK,
        "threads": DEFAULT_THREADS,
        "durability": durability,
    }
    os.sync()  # no dirty pages of the run before
    result, _ = run_child(spec)
    if result.get("error") or not result["report"]["created"]:
        raise RuntimeError(f"{kind} at {durability}: {result.get('error') or 'nothing done'}")
    shutil.rmtree(home)
    return float(result["seconds"])


def _table(kind: str, size: int, seconds: dict[str, list[float]]) -> None:
    print(f"\nfirst {kind} of {size} notes, SQLite, {len(seconds['full'])} runs each, alternating")
    print("| durability | median s | runs s |\n|---|---|---|")
    for name in SETTINGS:
        runs = ", ".join(f"{s:.2f}" for s in seconds[name])
        print(f"| `{name}` | {statistics.median(seconds[name]):.2f} | {runs} |")
    full, normal = (statistics.median(seconds[name]) for name in SETTINGS)
    print(f"cost of full: {full - normal:+.2f} s ({(full / normal - 1) * 100:+.1f}%)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="number of notes")
    parser.add_argument("--runs", type=int, default=3, help="runs of each setting (median)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    try:
        tree = work / "tree"
        write_files(generate(args.size, SEED), tree)
        seeded = work / "seeded.sqlite"
        run_child({"kind": "seed", "db": f"sqlite:///{seeded}", "n": args.size, "seed": SEED})
        for kind, source in (("import", None), ("export", seeded)):
            seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
            for index in range(args.runs):
                order = SETTINGS if index % 2 == 0 else SETTINGS[::-1]
                for name in order:
                    seconds[name].append(_run(kind, tree, work, name, source))
            _table(kind, args.size, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
