"""Watch mode, measured: latencies a user feels while ``brainsync watch`` runs.

``python -m bench.watch --size 10000`` builds a folder of ``size`` generated notes, syncs it
into a fresh SQLite store, starts a watcher in this process and prints one table:

- save to committed entity: a file is rewritten, the time until the store holds its bytes
  (p50 and p95 over ``--edits`` saves, one at a time);
- entity change to written file: an entity is changed through the facade, the time until
  the file on disk holds its document (p50, p95);
- a burst: ``--burst`` new files written at once, how many sync jobs the watcher ran for
  them and how long until every one was in the store;
- idle CPU: the process's CPU time over ``--idle`` seconds of watching with nothing to do,
  as a share of one core.

A benchmark, not a test: it prints what it measured and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.corpus import generate, write_files
from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.entities import EntityKey, document_hash
from brainsync.sync.watch_jobs import WatchEvent, WatchEventKind

_DEADLINE = 120.0


def _wait(condition: Callable[[], bool], what: str) -> float:
    """Seconds until ``condition`` holds (polled every 5 ms); raises after the deadline."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > _DEADLINE:
            raise TimeoutError(f"{what}: not seen within {_DEADLINE:.0f} s")
        time.sleep(0.005)
    return time.perf_counter() - start


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def _saves(brain: Brain, root: Path, count: int) -> list[float]:
    files = sorted(root.glob("*.md"))[:count]
    samples = []
    for number, path in enumerate(files):
        data = path.read_bytes() + f"\nsaved {number}\n".encode()
        key = path.stem
        path.write_bytes(data)
        expected = document_hash(data.decode("utf-8"))
        samples.append(
            _wait(lambda: _hash_of(brain, key) == expected, f"save of {path.name}")  # noqa: B023
        )
    return samples


def _hash_of(brain: Brain, note_id: str) -> str | None:
    entity = brain.store.get(EntityKey("note", note_id))
    return None if entity is None else entity.content_hash


def _entity_changes(brain: Brain, root: Path, count: int) -> list[float]:
    samples = []
    for number in range(count):
        note_id = f"bench-entity-{number}"
        text = f"---\ntitle: Entity {number}\n---\nWritten through the facade.\n"
        start = time.perf_counter()
        brain.put_entity("note", note_id, text=text)
        target = root / f"{note_id}.md"
        _wait(lambda: target.exists() and target.read_text() == text, note_id)  # noqa: B023
        samples.append(time.perf_counter() - start)
    return samples


def _burst(brain: Brain, root: Path, size: int, jobs: list[str]) -> tuple[int, float]:
    before = len(jobs)
    folder = root / "burst"
    folder.mkdir()
    start = time.perf_counter()
    for number in range(size):
        (folder / f"b{number}.md").write_text(f"---\ntitle: b{number}\n---\nburst\n")
    expected = brain.store.count() + size
    _wait(lambda: brain.store.count() >= expected, "the burst")
    return len(jobs) - before, time.perf_counter() - start


def _idle_cpu(seconds: float) -> float:
    used = os.times()
    time.sleep(seconds)
    after = os.times()
    cpu = (after.user - used.user) + (after.system - used.system)
    return cpu / seconds


def main(argv: list[str]) -> int:
    """Build the folder, watch it and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.watch")
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument(
        "--job-poll", type=float, default=None, help="job_poll_seconds (default: the setting's)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="brainsync-bench-watch-") as tmp:
        root = Path(tmp) / "brain"
        root.mkdir()
        write_files(generate(args.size), root)
        settings = Settings(directory=root, home=Path(tmp) / "state")
        if args.job_poll is not None:
            settings = replace(settings, job_poll_seconds=args.job_poll)
        with Brain(settings) as brain:
            brain.sync()
            jobs: list[str] = []

            def seen(event: WatchEvent) -> None:
                if event.kind is WatchEventKind.BATCH and event.job:
                    jobs.append(event.job)

            with brain.watch(on_event=seen) as watcher:
                _wait(watcher.idle, "the startup reconcile")
                rows = [
                    ("save to committed entity", _percentiles(_saves(brain, root, args.edits))),
                    (
                        "entity change to written file (in-process)",
                        _percentiles(_entity_changes(brain, root, args.edits)),
                    ),
                ]
                count, drain = _burst(brain, root, args.burst, jobs)
                rows.append((f"burst of {args.burst} new files", f"{count} jobs, {drain:.1f} s"))
                _wait(watcher.idle, "the end of the burst")
                share = _idle_cpu(args.idle)
                rows.append((f"idle CPU over {args.idle:.0f} s", f"{share:.1%} of a core"))
    poll = settings.job_poll_seconds
    print(f"| watch, {args.size} files, SQLite, job_poll_seconds={poll} | measured |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
