"""A fake chunked operation for the job tests: one file per item, written atomically.

It records every chunk start and end in a log file (``<pid> start|end <job> <chunk>``),
so tests can check ordering, overlap and re-runs, also across worker processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from brainsync.errors import MassDeleteError, TransientStoreError
from brainsync.jobs import Chunk
from brainsync.report import ItemError, Report


class FakeOperation:
    """Writes ``item-<n>.md`` for each item; behaviour is steered by the job parameters."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.root = Path(params["root"])
        self.log = Path(params["log"])

    def plan(self) -> list[Chunk]:
        if self.params.get("plan_error"):
            raise MassDeleteError(self.params["plan_error"])
        items, per = int(self.params["items"]), int(self.params.get("chunk", 1))
        numbers = list(range(items))
        return [
            {"index": n, "items": numbers[start : start + per]}
            for n, start in enumerate(range(0, items, per))
        ]

    def chunk_size(self, chunk: Chunk) -> int:
        return len(chunk["items"])

    def run_chunk(self, chunk: Chunk) -> Report:
        index = chunk["index"]
        self._record("start", index)
        self._maybe_fail(index)
        self._maybe_hold(index)
        time.sleep(float(self.params.get("sleep", 0)))
        report = Report()
        for item in chunk["items"]:
            if item in self.params.get("fail_items", []):
                report.errors.append(ItemError(f"item-{item}.md", "refused"))
                continue
            self._write(item)
            report.created += 1
        self._record("end", index)
        return report

    def _maybe_fail(self, index: int) -> None:
        if index == self.params.get("raise_on_chunk"):
            raise RuntimeError(f"boom in chunk {index}")
        if index == 0 and self.params.get("transient"):
            counter = self.root / ".transient-count"
            seen = int(counter.read_text()) if counter.exists() else 0
            if seen < int(self.params["transient"]):
                counter.write_text(str(seen + 1))
                raise TransientStoreError("database is locked")

    def _maybe_hold(self, index: int) -> None:
        """Chunk ``hold_chunk`` waits for the file ``hold`` (bounded, so a broken test
        ends): a test acts on a running chunk without racing a sleep."""
        hold = self.params.get("hold")
        if hold is None or index != int(self.params.get("hold_chunk", 0)):
            return
        deadline = time.monotonic() + 60
        while not Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _write(self, item: int) -> None:
        target = self.root / f"item-{item}.md"
        # one temp name per item: the step in flight when a worker is killed re-runs and
        # writes the same temp again, so no litter of the killed worker outlives the resume
        tmp = self.root / f".tmp-{item}"
        tmp.write_text(f"item {item}\n")
        os.replace(tmp, target)

    def _record(self, what: str, index: int) -> None:
        line = f"{os.getpid()} {what} {self.params.get('name', '-')} {index} {time.time()}\n"
        with self.log.open("a") as handle:
            handle.write(line)


def factory(kind: str, params: dict[str, Any]) -> FakeOperation:
    """The OperationFactory of the tests: only the kind "fake" exists."""
    if kind != "fake":
        raise ValueError(f"unknown job kind {kind!r}")
    return FakeOperation(params)


def read_log(path: Path) -> list[tuple[int, str, str, int, float]]:
    """Parse the chunk log: (pid, start|end, job name, chunk index, time)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        pid, what, name, index, when = line.split()
        rows.append((int(pid), what, name, int(index), float(when)))
    return rows
