"""One measurement in a fresh process: ``python -m bench.worker '<json spec>'``.

The parent reads the last stdout line (JSON: ``seconds`` plus details) and the process's
peak RSS from ``os.wait4``. Only the operation itself is timed: interpreter start-up,
imports and opening the store are not. Product modules are imported lazily so that the
baselines run without them.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]

Spec = dict[str, Any]
Result = dict[str, Any]


class _ReadCounter:
    """Wraps ``read_snapshot`` wherever the product imported it, and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def install(self) -> None:
        from brainsync.sync import files

        original = files.read_snapshot

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        for name, module in list(sys.modules.items()):
            if name.startswith("brainsync") and getattr(module, "read_snapshot", None) is original:
                module.read_snapshot = counted  # type: ignore[attr-defined]


def _product(spec: Spec) -> Result:
    """Run export, import or sync with the product's facade and the given settings."""
    from brainsync.app import Brain
    from brainsync.config import Settings

    settings = Settings(
        directory=Path(spec["dir"]),
        home=Path(spec["home"]),
        db=spec["db"],
        chunk_size=int(spec["chunk"]),
        io_threads=int(spec["threads"]),
        durability=spec.get("durability", "full"),
    )
    counter = _ReadCounter()
    with Brain(settings) as brain:
        brain.store.count()  # open the store and the engine before the clock starts
        _ = brain.engine
        counter.install()
        start = time.perf_counter()
        report = brain.run(spec["kind"], {})
        seconds = time.perf_counter() - start
    counts = {k: v for k, v in report.to_dict().items() if isinstance(v, int)}
    counts["errors"] = len(report.errors)
    counts["skipped"] = len(report.skipped)
    counts["conflicts"] = len(report.conflicts)
    first_error = report.errors[0].error if report.errors else None
    return {"seconds": seconds, "reads": counter.calls, "report": counts, "error": first_error}


def _seed(spec: Spec) -> Result:
    """Load the first ``n`` corpus items straight into the store (bulk ``apply``)."""
    from bench.corpus import generate, load_store
    from brainsync.store import open_store

    with open_store(spec["db"]) as store:
        start = time.perf_counter()
        count = load_store(generate(int(spec["n"]), int(spec["seed"])), store)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "count": count}


def _walk(spec: Spec) -> Result:
    from bench.baselines import walk

    start = time.perf_counter()
    count = walk(Path(spec["dir"]))
    return {"seconds": time.perf_counter() - start, "count": count}


def _floor(spec: Spec) -> Result:
    from bench.baselines import floor_import

    start = time.perf_counter()
    count = floor_import(Path(spec["dir"]), spec["target"])
    return {"seconds": time.perf_counter() - start, "count": count}


def _floor_export(spec: Spec) -> Result:
    """The atomic-writer floor: the tree's files loaded first, then only the writes timed."""
    from bench.baselines import floor_export, load_tree

    files = load_tree(Path(spec["dir"]))
    start = time.perf_counter()
    count = floor_export(files, Path(spec["dest"]))
    return {"seconds": time.perf_counter() - start, "count": count}


def _enqueue(spec: Spec) -> Result:
    """Median latency of ``enqueue`` over ``calls`` calls, or why it cannot be measured."""
    try:
        from brainsync.jobs import JobService
    except ImportError as exc:
        return {"seconds": None, "missing": f"jobs layer not present ({exc})"}

    def never(kind: str, params: dict[str, Any]) -> Any:
        raise AssertionError("no worker runs in the benchmark")

    with tempfile.TemporaryDirectory() as home:
        url = spec.get("db") or f"sqlite:///{Path(home) / 'jobs.sqlite'}"
        start = time.perf_counter()
        with JobService(url, never, start_worker=False, executor_id="bench") as service:
            opened = time.perf_counter() - start
            times = []
            for index in range(int(spec["calls"])):
                start = time.perf_counter()
                service.enqueue("export", {"bench": index}, lane="bench")
                times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "all": times, "open": opened}


def _peak_rss_kb() -> int | None:
    """This process's own peak RSS (``VmHWM``).

    ``ru_maxrss`` is no good here: Linux carries the parent's high-water mark across
    fork and exec, so every child would report at least the parent's size.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


_KINDS: dict[str, Callable[[Spec], Result]] = {
    "export": _product,
    "import": _product,
    "sync": _product,
    "seed": _seed,
    "walk": _walk,
    "floor": _floor,
    "floor_export": _floor_export,
    "enqueue": _enqueue,
}


def main(argv: list[str]) -> int:
    """Run the spec given as the one argument; print its result as one JSON line."""
    spec: Spec = json.loads(argv[0])
    result = _KINDS[spec["kind"]](spec)
    result["peak_rss_kb"] = _peak_rss_kb()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
