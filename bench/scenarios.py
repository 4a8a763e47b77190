"""The scenarios: each measurement runs in a fresh subprocess, several times.

:class:`Bench` prepares the corpus (a tree of files, its tar, a 1k subset tree), runs the
baselines (``tar -x``, ``tar -c``, the walk, the import floor) and then, per backend,
export to an empty folder (the first backend's paired run by run with the atomic-writer
floor), import into an empty store, no-change sync, sync after 1 and 1% changed files,
the sequential configuration and the chunk-size and thread-count sweeps. Everything lands
in :class:`Results`.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.backends import Backend
from bench.baselines import make_tar, tar_create, tar_extract
from bench.corpus import generate, write_files
from brainsync.config import Settings

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_THREADS",
    "SEQ_MAX",
    "WRITER_FLOOR",
    "Bench",
    "Measure",
    "Results",
    "run_child",
]

PROJECT = Path(__file__).resolve().parent.parent
# the product's own defaults, so the headline rows measure what a user gets
DEFAULT_CHUNK = Settings().chunk_size
DEFAULT_THREADS = Settings().io_threads
SEQ_MAX = 1000
SYNC_RUNS = 5
CHUNK_SIZES = (50, 100, 500, 2000)
THREAD_COUNTS = (1, 2, 4, 8)
#: The export's floor (temp file, write, utime, rename per file; see bench.baselines).
WRITER_FLOOR = "atomic-writer floor"


@dataclass
class Measure:
    """Repeated timings of one scenario on one backend."""

    scenario: str
    backend: str
    n: int
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_item(self) -> float:
        """Median seconds per item."""
        return self.median / max(self.n, 1)

    @property
    def peak_rss(self) -> float | None:
        return max(self.rss_mb) if self.rss_mb else None


@dataclass
class Results:
    """Every measure of one benchmark run, plus the enqueue figures and notes."""

    size: int
    runs: int
    measures: dict[tuple[str, str], Measure] = field(default_factory=dict)
    enqueue: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)

    def add(self, measure: Measure) -> Measure:
        self.measures[(measure.scenario, measure.backend)] = measure
        return measure

    def get(self, scenario: str, backend: str) -> Measure | None:
        return self.measures.get((scenario, backend))


def run_child(spec: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run ``bench.worker`` with ``spec`` in a fresh process: (its result, peak RSS in MB)."""
    command = [sys.executable, "-m", "bench.worker", json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        assert proc.stdout is not None
        output = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"worker {spec['kind']} failed:\n{errors.read()[-3000:]}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    # The child's own VmHWM; ru_maxrss of a child starts at the parent's high-water mark.
    peak_kb = result.get("peak_rss_kb") or usage.ru_maxrss
    return result, peak_kb / 1024


class Bench:
    """One benchmark run at one corpus size."""

    def __init__(self, size: int, runs: int, sweep_runs: int, work: Path, seed: int) -> None:
        self.size = size
        self.runs = runs
        self.sweep_runs = sweep_runs
        self.work = work
        self.seed = seed
        self.results = Results(size, runs)
        self.tree = work / "tree"
        self.archive = work / "tree.tar"
        self.seq_n = min(size, SEQ_MAX)
        self.seq_tree = self.tree if self.seq_n == size else work / f"tree-{self.seq_n}"
        self.paths: list[str] = []

    # -- preparation -------------------------------------------------------------------

    def prepare(self) -> None:
        """Write the corpus tree (and the sequential subset), and pack the tar."""
        self.work.mkdir(parents=True, exist_ok=True)
        docs = generate(self.size, self.seed)
        written = write_files(docs, self.tree)
        self.paths = sorted(str(p.relative_to(self.tree)) for p in self.tree.rglob("*.md"))
        if self.seq_tree != self.tree:
            write_files(generate(self.seq_n, self.seed), self.seq_tree)
        make_tar(self.tree, self.archive)
        mb = written / 1e6
        self.results.notes.append(f"corpus: {self.size} files, {mb:.1f} MB, seed {self.seed}")

    def seeder(self, url: str, n: int) -> None:
        """Fill the database at ``url`` with the first ``n`` corpus items (in a subprocess)."""
        run_child({"kind": "seed", "db": url, "n": n, "seed": self.seed})

    # -- running -----------------------------------------------------------------------

    def _repeat(
        self, measure: Measure, times: int, once: Callable[[int], tuple[dict[str, Any], float]]
    ) -> Measure:
        for index in range(times):
            os.sync()  # start each run with no dirty pages left by the one before
            result, rss = once(index)
            measure.seconds.append(float(result["seconds"]))
            if rss:
                measure.rss_mb.append(rss)
            if result.get("reads") is not None:
                measure.reads.append(int(result["reads"]))
            self._check(measure, result)
        return self.results.add(measure)

    @staticmethod
    def _check(measure: Measure, result: dict[str, Any]) -> None:
        report = result.get("report") or {}
        if report.get("errors"):
            raise RuntimeError(f"{measure.scenario}/{measure.backend}: {result['error']}")

    def baselines(self, backends: list[Backend]) -> None:
        """tar -x, tar -c, the scandir walk, and the minimal import floor per backend."""
        n = self.size
        self._repeat(Measure("tar -x", "fs", n), self.runs, self._tar_x)
        # the atomic-writer floor runs paired with the first backend's export (see export)
        self._repeat(
            Measure("tar -c to pipe", "fs", n),
            self.runs,
            lambda i: ({"seconds": tar_create(self.tree)}, 0.0),
        )
        walk = {"kind": "walk", "dir": str(self.tree)}
        self._repeat(Measure("scandir+stat walk", "fs", n), self.runs, lambda i: run_child(walk))
        for backend in backends:
            self._repeat(
                Measure("minimal floor import", backend.name, n), self.runs,
                lambda i, b=backend: self._floor(b),  # type: ignore[misc]
            )  # fmt: skip

    def _tar_x(self, index: int) -> tuple[dict[str, Any], float]:
        dest = self.work / f"tar-x-{index}"
        seconds = tar_extract(self.archive, dest)
        shutil.rmtree(dest)
        return {"seconds": seconds}, 0.0

    def _writer_floor(self, index: int) -> tuple[dict[str, Any], float]:
        dest = self.work / f"writer-floor-{index}"
        dest.mkdir()
        try:
            return run_child({"kind": "floor_export", "dir": str(self.tree), "dest": str(dest)})
        finally:
            shutil.rmtree(dest)

    def _floor(self, backend: Backend) -> tuple[dict[str, Any], float]:
        target = backend.floor_target()
        try:
            return run_child({"kind": "floor", "dir": str(self.tree), "target": target})
        finally:
            url = target if "://" in target else f"sqlite:///{target}"
            backend.drop(url)

    def _product(
        self, kind: str, tree: Path, db: str, chunk: int, threads: int
    ) -> tuple[dict[str, Any], float]:
        spec = {
            "kind": kind, "dir": str(tree), "home": str(self.work / "home"), "db": db,
            "chunk": chunk, "threads": threads,
        }  # fmt: skip
        return run_child(spec)

    def export(
        self,
        backend: Backend,
        label: str,
        n: int,
        chunk: int,
        threads: int,
        times: int,
        floor: Measure | None = None,
    ) -> Measure:
        """Export ``n`` seeded entities to an empty folder, ``times`` times.

        With ``floor``, the atomic-writer floor runs right before each export: this disk's
        speed swings tenfold within minutes, so only a pair measured together makes a ratio.
        """

        def once(index: int) -> tuple[dict[str, Any], float]:
            url = backend.seeded(n)
            out = self.work / f"export-{backend.name}-{index}"
            out.mkdir()
            try:
                if floor is not None:
                    self._repeat(floor, 1, lambda _: self._writer_floor(index))
                os.sync()  # the export should not pay for the seeder's (or floor's) writes
                return self._product("export", out, url, chunk, threads)
            finally:
                shutil.rmtree(out)
                backend.drop(url)

        return self._repeat(Measure(label, backend.name, n), times, once)

    def import_(
        self, backend: Backend, label: str, tree: Path, n: int, chunk: int, threads: int, times: int
    ) -> tuple[Measure, str]:
        """Import the files of ``tree`` into an empty store; returns the last store's URL."""
        kept: list[str] = []

        def once(index: int) -> tuple[dict[str, Any], float]:
            url = backend.empty()
            if kept:
                backend.drop(kept.pop())
            kept.append(url)
            return self._product("import", tree, url, chunk, threads)

        measure = self._repeat(Measure(label, backend.name, n), times, once)
        return measure, kept[0]

    def syncs(self, backend: Backend, tree: Path, url: str) -> None:
        """No-change sync, and sync after changing 1 file and 1% of the files.

        The three alternate run by run so that drift in the machine's load hits them alike;
        the report pairs them run by run. They are cheap, so they get at least
        :data:`SYNC_RUNS` runs.
        """
        changes = {
            "sync, no change": 0,
            "sync, 1 file changed": 1,
            "sync, 1% changed": max(1, self.size // 100),
        }
        measures = {label: Measure(label, backend.name, self.size) for label in changes}
        for index in range(max(self.runs, SYNC_RUNS)):
            for label, k in changes.items():
                once = functools.partial(self._sync, tree, url, k, index)
                self._repeat(measures[label], 1, lambda _, run=once: run())  # type: ignore[misc]
        for label, k in changes.items():
            measures[label].note = f"{k} file(s) edited before each run"

    def _sync(self, tree: Path, url: str, changed: int, index: int) -> tuple[dict[str, Any], float]:
        if changed:
            self._touch(tree, changed, index)
        return self._product("sync", tree, url, DEFAULT_CHUNK, DEFAULT_THREADS)

    def _touch(self, tree: Path, k: int, index: int) -> None:
        rng = random.Random(self.seed + 7919 * index + k)
        for rel in rng.sample(self.paths, k):
            with (tree / rel).open("a", encoding="utf-8") as handle:
                handle.write(f"\nEdited by the benchmark, run {index}.\n")

    def backend(self, backend: Backend, sweeps: bool) -> None:
        """Every product scenario on one backend."""
        self.results.backends.append(backend.name)
        n, runs = self.size, self.runs
        paired = None if self.results.get(WRITER_FLOOR, "fs") else Measure(WRITER_FLOOR, "fs", n)
        self.export(backend, "export", n, DEFAULT_CHUNK, DEFAULT_THREADS, runs, paired)
        tree = self.work / f"tree-{backend.name}"
        tar_extract(self.archive, tree)
        _, url = self.import_(backend, "import", tree, n, DEFAULT_CHUNK, DEFAULT_THREADS, runs)
        self.syncs(backend, tree, url)
        backend.drop(url)
        seq = self.seq_n
        self.export(backend, "export, sequential", seq, 1, 1, runs)
        self.import_(backend, "import, sequential", self.seq_tree, seq, 1, 1, runs)
        if sweeps:
            self.sweeps(backend, tree)
        shutil.rmtree(tree)

    def sweeps(self, backend: Backend, tree: Path) -> None:
        """Chunk sizes at the default thread count, thread counts at the default chunk."""
        configs = [(c, DEFAULT_THREADS) for c in CHUNK_SIZES if c != DEFAULT_CHUNK]
        configs += [(DEFAULT_CHUNK, t) for t in THREAD_COUNTS if t != DEFAULT_THREADS]
        n, times = self.size, self.sweep_runs
        for chunk, threads in configs:
            label = f"chunk {chunk}, threads {threads}"
            self.export(backend, f"export, {label}", n, chunk, threads, times)
            _, url = self.import_(backend, f"import, {label}", tree, n, chunk, threads, times)
            backend.drop(url)

    def enqueue(self, backends: list[Backend]) -> None:
        """Median enqueue latency of the jobs layer over 20 calls, where it exists."""
        for backend in backends:
            spec: dict[str, Any] = {"kind": "enqueue", "calls": 20}
            url = None
            if backend.name != "sqlite":
                url = backend.empty()
                spec["db"] = url
            try:
                result, rss = run_child(spec)
            except RuntimeError as exc:
                result, rss = {"seconds": None, "missing": str(exc).splitlines()[-1]}, 0.0
            finally:
                if url:
                    backend.drop(url)
            result["rss"] = rss
            self.results.enqueue[backend.name] = result
