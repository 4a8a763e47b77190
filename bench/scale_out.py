"""Scale-out throughput on one central brain: ``python -m bench.scale_out [--size 10000]``.

One brain on PostgreSQL (a throwaway store and job store) holds ``size`` entities. Each
"host" is a ``brainsync worker`` process with its own host name, executor id, state
folder and folders, as in ``scripts/three-hosts.sh``. Every export goes to a new, empty
folder. The scenarios, timed from the first enqueue to the last job's end:

- one host exports two folders one after the other (the baseline);
- one host exports both at once (two lanes in one worker process);
- two hosts export one folder each at once (the target: <= 0.6x the baseline).

Then how fast a job id comes back when a host enqueues an export: ``Brain.start``
in-process, and the whole ``brainsync export --no-wait`` process that a user feels. The
workers are stopped first, so the jobs only queue: enqueueing is what is timed, not
exports running beside it on the two cores.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.backends import PG_ADMIN, postgres_available
from bench.corpus import generate, load_store
from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.jobs import JobState

__all__ = ["main"]

TARGET_RATIO = 0.6
ENQUEUE_TARGET_MS = 50.0
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class Host:
    """One simulated machine on the brain."""

    name: str
    work: Path
    urls: tuple[str, str]  # store, job store

    @property
    def executor(self) -> str:
        return f"{self.name}-worker"

    def settings(self, folder: str) -> Settings:
        return Settings(
            directory=self.work / self.name / folder,
            home=self.work / self.name / "state",
            db=self.urls[0],
            jobs_db=self.urls[1],
            host=self.name,
            executor_id=self.executor,
        )

    def env(self, folder: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
        env.update(
            BRAINSYNC_DIR=str(self.work / self.name / folder),
            BRAINSYNC_HOME=str(self.work / self.name / "state"),
            BRAINSYNC_DB=self.urls[0],
            BRAINSYNC_JOBS_DB=self.urls[1],
            BRAINSYNC_HOST=self.name,
            BRAINSYNC_EXECUTOR_ID=self.executor,
        )
        return env


@contextmanager
def _databases() -> Iterator[tuple[str, str]]:
    """A throwaway store and job store, dropped afterwards."""
    import psycopg

    names = [f"bs_bench_scale_{kind}_{secrets.token_hex(4)}" for kind in ("store", "jobs")]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{names[0]}", f"{PG_SERVER}/{names[1]}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Cluster:
    """The hosts' worker processes and one client brain per (host, folder)."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.procs: list[subprocess.Popen[bytes]] = []
        self.brains: dict[tuple[str, str], Brain] = {}

    def brain(self, host: Host, folder: str) -> Brain:
        key = (host.name, folder)
        if key not in self.brains:
            settings = host.settings(folder)
            settings.root.mkdir(parents=True, exist_ok=True)
            self.brains[key] = Brain(settings)
        return self.brains[key]

    def start_workers(self) -> None:
        for host in self.hosts:
            log = (host.work / f"{host.name}.worker.log").open("ab")
            argv = [sys.executable, "-m", "brainsync", "worker"]
            self.procs.append(subprocess.Popen(argv, env=host.env("idle"), stderr=log))
            log.close()
        probe = self.brain(self.hosts[0], "idle").jobs(worker=False)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            alive = {w.executor_id for w in probe.hosts() if w.alive}
            if all(h.executor in alive for h in self.hosts):
                return
            time.sleep(0.1)
        raise RuntimeError("the workers did not come up; see the *.worker.log files")

    def stop_workers(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=120)

    def close(self) -> None:
        self.stop_workers()
        for brain in self.brains.values():
            brain.close()


def _export_all(cluster: Cluster, runs: list[tuple[Host, str]]) -> float:
    """Enqueue an export for every (host, folder) at once; seconds until all ended."""
    began = time.perf_counter()
    started = [
        (cluster.brain(h, f), cluster.brain(h, f).start("export", worker=False)) for h, f in runs
    ]
    for brain, job_id in started:
        job = brain.jobs(worker=False).wait(job_id, timeout=1800)
        if job.state is not JobState.SUCCEEDED:
            raise RuntimeError(f"job {job_id} ended {job.state}: {job.error}")
    return time.perf_counter() - began


def throughput(cluster: Cluster) -> list[tuple[str, float]]:
    """The three scenarios, each on fresh empty folders."""
    a, b = cluster.hosts
    one_after_other = _export_all(cluster, [(a, "seq-1")]) + _export_all(cluster, [(a, "seq-2")])
    both_on_one = _export_all(cluster, [(a, "one-1"), (a, "one-2")])
    two_hosts = _export_all(cluster, [(a, "two-1"), (b, "two-2")])
    return [
        ("one host, one export after the other", one_after_other),
        ("one host, both exports at once", both_on_one),
        ("two hosts, one export each at once", two_hosts),
    ]


def enqueue_latency(cluster: Cluster, count: int) -> list[tuple[str, list[float]]]:
    """Milliseconds for a job id to come back, per host: in-process and whole CLI."""
    rows: list[tuple[str, list[float]]] = []
    for host in cluster.hosts:
        brain = cluster.brain(host, "enqueue")
        brain.start("export", worker=False)  # warm the pools
        samples = []
        for _ in range(count):
            began = time.perf_counter()
            brain.start("export", worker=False)
            samples.append((time.perf_counter() - began) * 1000)
        rows.append((f"{host.name}: Brain.start (in-process)", samples))
        argv = [sys.executable, "-m", "brainsync", "export", "--no-wait"]
        cli = []
        for _ in range(max(3, count // 4)):
            began = time.perf_counter()
            subprocess.run(argv, env=host.env("enqueue"), check=True, capture_output=True)
            cli.append((time.perf_counter() - began) * 1000)
        rows.append((f"{host.name}: `brainsync export --no-wait` (whole process)", cli))
    return rows


def render(size: int, runs: list[tuple[str, float]], enqueue: list[tuple[str, list[float]]]) -> str:
    base = runs[0][1]
    lines = [
        f"## Scale-out, PostgreSQL, two folders of {size} entities each (2 cores)",
        "",
        "| scenario | seconds | x one after the other |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {sec:.2f} | {sec / base:.2f} |" for name, sec in runs]
    ratio = runs[-1][1] / base
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    lines += ["", f"Target two hosts <= {TARGET_RATIO}x: {ratio:.2f} {verdict}", ""]
    lines += ["| job id back | median ms | p95 ms | max ms |", "|---|---:|---:|---:|"]
    for name, samples in enqueue:
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        median = statistics.median(ordered)
        lines.append(f"| {name} | {median:.1f} | {p95:.1f} | {ordered[-1]:.1f} |")
    lines += ["", f"Target in-process < {ENQUEUE_TARGET_MS:.0f} ms."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out")
    parser.add_argument("--size", type=int, default=10000, help="entities per folder")
    parser.add_argument("--enqueues", type=int, default=20, help="job ids timed per host")
    args = parser.parse_args(argv)
    missing = postgres_available()
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="brainsync-bench-scale-") as tmp, _databases() as urls:
        hosts = [Host(name, Path(tmp), urls) for name in ("host-a", "host-b")]
        cluster = Cluster(hosts)
        try:
            seeded = cluster.brain(hosts[0], "idle")
            load_store(generate(args.size), seeded.store)
            cluster.start_workers()
            runs = throughput(cluster)
            cluster.stop_workers()
            enqueue = enqueue_latency(cluster, args.enqueues)
        finally:
            cluster.close()
    print(render(args.size, runs, enqueue))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
