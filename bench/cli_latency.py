"""``python -m bench.cli_latency --size N [--runs 5] [--small 200] [--reuse]``.

What a user feels: whole ``brainsync`` processes, timed from the outside (wall clock from
spawn to exit, interpreter start-up, imports, opening the store, the work and the exit
all included), each row next to its target. The engine table (``python -m bench``) times
the operations inside a warm process; this one times what a shell prompt waits for.

Two folders, each with its own state (``--home``), ``HOME`` and working directory, so
that nothing one scenario leaves (jobs, locks, a ``brainsync.toml``) reaches another:

* 200 files, synced once: ``sync`` with nothing changed, ``sync --dry-run``,
  ``export --no-wait``;
* the N-file corpus of :mod:`bench.corpus`, synced once (the slow part of the set-up at
  100k; ``--reuse`` keeps it for the next run): ``status``, no-change ``sync``,
  ``sync --dry-run``, ``export --no-wait``, and the quick commands ``folders``, ``jobs``,
  ``entity get`` and ``job show``.

Floors: the bare interpreter (``python -c pass``) and ``python -c "import brainsync"``.
Every ``export --no-wait`` job is cancelled right after its run (untimed), so that no
queued export runs inside a later ``sync``. The rows alternate run by run, so drift in
the machine's load hits them alike. Peak RSS comes from ``/usr/bin/time -f %M``.

Then the size of the plan step's checkpoint (DBOS ``operation_outputs``, step
``brainsync.plan``) for the set-up syncs and the last no-change sync: the issue asks that
it stop growing with N, and this prints today's figure.

A benchmark, not a test: run it on purpose; its figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from bench.corpus import DEFAULT_SEED, generate, write_files
from brainsync.config import Settings

__all__ = ["Folder", "Row", "main", "measure", "revision"]

PROJECT = Path(__file__).resolve().parent.parent
OUT = PROJECT / "bench" / "out"
SMALL = 200
TIME = Path("/usr/bin/time")
#: The step name the job workflow gives its plan (src/brainsync/jobs/workflow.py).
PLAN_STEP = "brainsync.plan"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SETUP = "setup.json"


@dataclass(frozen=True)
class Timed:
    """One whole process: wall seconds, peak RSS in KB, its standard output."""

    seconds: float
    rss_kb: int
    stdout: str


def _script() -> list[str]:
    """The console script users run (the one beside this interpreter), else ``-m``."""
    script = Path(sys.executable).with_name("brainsync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "brainsync"]


def _peak_kb(rss_file: Path, usage: resource.struct_rusage) -> int:
    if not TIME.exists():
        # ru_maxrss of a child starts at this (small) parent's high-water mark: an upper bound
        return int(usage.ru_maxrss)
    # time(1) puts a "Command exited with non-zero status" line first on failures
    return int(rss_file.read_text(encoding="ascii").split()[-1])


def run_process(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Timed:
    """Run ``argv`` to its end; raise with its stderr when it fails."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        rss_file, err_file = Path(tmp) / "rss", Path(tmp) / "stderr"
        wrapped = [str(TIME), "-f", "%M", "-o", str(rss_file), *argv] if TIME.exists() else argv
        with err_file.open("w") as errors:
            start = time.perf_counter()
            proc = subprocess.Popen(
                wrapped, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
            )
            assert proc.stdout is not None
            output = proc.stdout.read()
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            tail = err_file.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(argv)} exited {code}:\n{tail}")
        return Timed(seconds, _peak_kb(rss_file, usage), output)


@dataclass(frozen=True)
class Folder:
    """A synced folder with its own state folder, ``HOME`` and working directory."""

    root: Path

    @property
    def brain(self) -> Path:
        return self.root / "brain"

    @property
    def settings(self) -> Settings:
        return Settings(directory=self.brain, home=self.root / "state")

    @property
    def jobs_db(self) -> Path:
        return Path(self.settings.jobs_url.removeprefix("sqlite:///"))

    def env(self) -> dict[str, str]:
        """The caller's environment without ``BRAINSYNC_*``, with this folder's ``HOME``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
        env["HOME"] = str(self.root / "env-home")
        # a user's Python caches bytecode; a sandbox that turns it off would add the
        # compilation of every module (about 0.2 s here) to every command measured
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def argv(self, *args: str) -> list[str]:
        home = str(self.settings.state_home)
        return [*_script(), "--dir", str(self.brain), "--home", home, *args]

    def run(self, *args: str) -> Timed:
        return run_process(self.argv(*args), self.env(), self.root)

    def make(self, size: int, seed: int) -> None:
        """Write the first ``size`` corpus files into a new folder."""
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "env-home").mkdir(parents=True)
        write_files(generate(size, seed), self.brain)


@dataclass
class Row:
    """One command, timed whole-process on one folder, with its target (seconds)."""

    name: str
    where: str
    target: float | None
    argv: list[str]
    folder: Folder
    #: Untimed clean-up after each run, given the run's standard output.
    after: Callable[[str], None] | None = None
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)

    def once(self) -> None:
        timed = run_process(self.argv, self.folder.env(), self.folder.root)
        self.seconds.append(timed.seconds)
        self.rss_kb.append(timed.rss_kb)
        if self.after is not None:
            self.after(timed.stdout)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _canceller(folder: Folder) -> Callable[[str], None]:
    """Cancel the job whose id the run printed, so that no later sync runs it."""

    def cancel(stdout: str) -> None:
        found = _UUID.search(stdout)
        if found is None:
            raise RuntimeError(f"no job id in the output: {stdout[:200]!r}")
        folder.run("job", "cancel", found.group())

    return cancel


@dataclass(frozen=True)
class Setup:
    """The N-file folder after its first sync, as saved beside it for ``--reuse``."""

    size: int
    seed: int
    first_job: str
    first_sync_seconds: float
    first_sync_rss_kb: int


def _newest_planned_job(jobs_db: Path) -> str:
    """The id of the newest job that checkpointed a plan."""
    query = (
        "SELECT s.workflow_uuid FROM workflow_status s JOIN operation_outputs o"
        " ON o.workflow_uuid = s.workflow_uuid AND o.function_name = ?"
        " ORDER BY s.created_at DESC LIMIT 1"
    )
    with _read_only(jobs_db) as db:
        row = db.execute(query, (PLAN_STEP,)).fetchone()
    if row is None:
        raise RuntimeError(f"no planned job in {jobs_db}")
    return str(row[0])


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def first_sync(folder: Folder, size: int, seed: int) -> Setup:
    """Write the corpus and sync it once (whole process; the set-up, timed once)."""
    folder.make(size, seed)
    timed = folder.run("sync")
    job = _newest_planned_job(folder.jobs_db)
    return Setup(size, seed, job, timed.seconds, timed.rss_kb)


def big_folder(work: Path, size: int, seed: int, reuse: bool) -> Setup:
    """The synced N-file folder: the one saved by an earlier ``--reuse`` run, or a new one."""
    folder = Folder(work / "big")
    saved = folder.root / _SETUP
    if reuse and saved.exists():
        setup = Setup(**json.loads(saved.read_text(encoding="utf-8")))
        if (setup.size, setup.seed) == (size, seed):
            return setup
    setup = first_sync(folder, size, seed)
    saved.write_text(json.dumps(asdict(setup)), encoding="utf-8")
    return setup


def build_rows(small: Folder, big: Folder, size: int, seed: int, job: str) -> list[Row]:
    """Every row of the table, in the order printed."""
    py = sys.executable
    key = next(generate(1, seed)).key
    n, s = f"{size} files", f"{SMALL} files"
    return [
        Row("python -c pass", "-", None, [py, "-c", "pass"], small),
        Row('python -c "import brainsync"', "-", None, [py, "-c", "import brainsync"], small),
        Row("sync (no change)", s, 0.6, small.argv("sync"), small),
        Row("sync --dry-run", s, 0.6, small.argv("sync", "--dry-run"), small),
        Row(
            "export --no-wait", s, 0.4, small.argv("export", "--no-wait"), small, _canceller(small)
        ),
        Row("status", n, 0.4, big.argv("status"), big),
        Row("sync (no change)", n, 1.0, big.argv("sync"), big),
        Row("sync --dry-run", n, 1.0, big.argv("sync", "--dry-run"), big),
        Row("export --no-wait", n, 0.4, big.argv("export", "--no-wait"), big, _canceller(big)),
        Row("folders", n, None, big.argv("folders"), big),
        Row("jobs", n, None, big.argv("jobs"), big),
        Row("entity get", n, None, big.argv("entity", "get", key.type, key.id), big),
        Row("job show", n, None, big.argv("job", "show", job), big),
    ]


@dataclass(frozen=True)
class PlanSize:
    """The checkpointed outputs of one job's steps, in bytes."""

    label: str
    items: int
    plan_bytes: int
    chunk_steps: int
    chunk_bytes: int


def plan_size(jobs_db: Path, job: str, label: str, items: int) -> PlanSize:
    """Sizes of the plan checkpoint and of the other step outputs of ``job``."""
    query = (
        "SELECT function_name, length(CAST(output AS BLOB)) FROM operation_outputs"
        " WHERE workflow_uuid = ? AND output IS NOT NULL"
    )
    with _read_only(jobs_db) as db:
        rows = db.execute(query, (job,)).fetchall()
    plan = sum(size for name, size in rows if name == PLAN_STEP)
    others = [size for name, size in rows if name != PLAN_STEP]
    return PlanSize(label, items, plan, len(others), sum(others))


def _run_rows(rows: list[Row], runs: int) -> None:
    """``runs`` rounds, each row once per round."""
    for _ in range(runs):
        for row in rows:
            row.once()


def _row_line(row: Row, floor: float) -> str:
    if row.target is None:
        goal, verdict = "-", "-"
    else:
        goal, verdict = f"<= {row.target:g} s", "PASS" if row.median <= row.target else "MISS"
    spread = f"{min(row.seconds):.3f}-{max(row.seconds):.3f}"
    over = "-" if row.name == "python -c pass" else f"{(row.median - floor) * 1000:+.0f}"
    cells = [f"`{row.name}`", row.where, str(len(row.seconds)), f"{row.median:.3f}", spread,
             over, f"{max(row.rss_kb) / 1024:.0f}", goal, verdict]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _plan_line(p: PlanSize) -> str:
    per_item = f"{p.plan_bytes / p.items:.2f}" if p.items else "-"
    cells = [p.label, str(p.items), f"{p.plan_bytes:,}", per_item,
             f"{p.chunk_steps} / {p.chunk_bytes:,}"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def render(rows: list[Row], plans: list[PlanSize], notes: list[str], size: int) -> str:
    """Both tables as markdown."""
    floor = rows[0].median
    lines = [f"# brainsync whole-process CLI latency, N = {size}", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "| command | folder | runs | median s | min-max s | ms over `python -c pass` "
              "| peak RSS MB | target | result |", "|" + "---|" * 9]  # fmt: skip
    lines += [_row_line(row, floor) for row in rows]
    lines += ["", "## Plan checkpoint (DBOS `operation_outputs`, step `brainsync.plan`)", "",
              "| job | files | plan output bytes | bytes/file | other steps: count / bytes |",
              "|---|---|---|---|---|"]  # fmt: skip
    lines += [_plan_line(p) for p in plans]
    return "\n".join(lines) + "\n"


def _git(*args: str) -> str:
    command = ["git", "-C", str(PROJECT), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _source_digest() -> str:
    """A digest of every file under src/, to tell apart runs of one commit's edited trees."""
    digest = hashlib.sha256()
    for path in sorted((PROJECT / "src").rglob("*.py")):
        digest.update(path.relative_to(PROJECT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def revision() -> str:
    """The commit measured, and whether src/ had uncommitted changes (others edit it)."""
    try:
        head, dirty = _git("rev-parse", "--short", "HEAD"), _git("status", "--porcelain", "src")
    except (OSError, subprocess.CalledProcessError):
        head, dirty = "unknown", "?"
    edited = " plus uncommitted changes in src/" if dirty else ""
    return f"product at {head}{edited} (src/ digest {_source_digest()})"


def measure(size: int, runs: int, work: Path, seed: int = DEFAULT_SEED, reuse: bool = False) -> str:
    """Set up both folders, time every row ``runs`` times, and return the report."""
    started = time.perf_counter()
    small, big = Folder(work / "small"), Folder(work / "big")
    small_setup = first_sync(small, SMALL, seed)
    setup = big_folder(work, size, seed, reuse)
    rows = build_rows(small, big, size, seed, setup.first_job)
    _run_rows(rows, runs)
    last = _newest_planned_job(big.jobs_db)
    plans = [
        plan_size(small.jobs_db, small_setup.first_job, f"first sync, {SMALL} files", SMALL),
        plan_size(big.jobs_db, setup.first_job, f"first sync, {size} files", size),
        plan_size(big.jobs_db, last, f"no-change sync, {size} files", size),
    ]
    notes = _notes(setup, runs, time.perf_counter() - started)
    return render(rows, plans, notes, size)


def _notes(setup: Setup, runs: int, total: float) -> list[str]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rss = "peak RSS from /usr/bin/time -f %M" if TIME.exists() else "peak RSS from wait4"
    return [
        f"{date.today().isoformat()}, {revision()}; {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the end",
        f"corpus: bench/corpus.py, seed {setup.seed}; each command a new process through "
        f"the console script, stdout a pipe; wall clock from spawn to exit; {rss}",
        f"set-up: first sync of {setup.size} files took {setup.first_sync_seconds:.1f} s "
        f"(whole process, {setup.first_sync_rss_kb / 1024:.0f} MB)",
        f"{runs} runs per row, rows alternating run by run; medians; "
        f"export --no-wait jobs cancelled after each run (untimed); total {total:.0f} s",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cli_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=10_000, help="files in the large folder")
    parser.add_argument("--runs", type=int, default=5, help="runs per row (median)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work", type=Path, help="work folder (default bench/out/cli-work-N)")
    parser.add_argument(
        "--reuse", action="store_true",
        help="reuse the synced N-file folder of an earlier --reuse run, and keep it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    work = args.work or OUT / f"cli-work-{args.size}"
    try:
        text = measure(args.size, args.runs, work, args.seed, args.reuse)
    finally:
        if not args.reuse:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"cli-{args.size}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
