"""Catalogue K6: ``status`` and the MCP tools answer while a large first sync runs.

The MCP server (the SDK's in-process client, as in ``test_mcp_tools.py``) starts the
first sync of a large folder; its worker thread is held at the start of a chunk by a
gate the test opens only at the end. Meanwhile ``brainsync status --json`` (a
subprocess) and the MCP tools must answer with the sync's progress so far: they do it
while the job still runs, because the gate is still shut. No time is asserted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_client import ok as _ok
from mcp_client import served

from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain
from brainsync.report import Report
from brainsync.sync.chunk import ChunkRunner
from cli_runner import brainsync

FILES = 2000
CHUNK = 100
GATED_CHUNK = 5  # the chunk the worker waits at: four chunks are committed by then
DEADLINE = 90.0  # seconds a condition may take on a loaded machine before a test fails


class Gate:
    """Holds the ``at``-th chunk run of this process until :meth:`open` (or the deadline)."""

    def __init__(self, at: int) -> None:
        self._at = at
        self._runs = 0
        self.reached = threading.Event()
        self._open = threading.Event()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = ChunkRunner.run
        gate = self

        def run(runner: ChunkRunner, items: list[Any], options: Any) -> Report:
            gate._runs += 1
            if gate._runs == gate._at:
                gate.reached.set()
                if not gate._open.wait(DEADLINE):
                    raise AssertionError("the gate was never opened")
            return original(runner, items, options)

        monkeypatch.setattr(ChunkRunner, "run", run)

    def open(self) -> None:
        self._open.set()

    @property
    def shut(self) -> bool:
        return not self._open.is_set()


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[LazyBrain]:
    root = tmp_path / "brain"
    for i in range(FILES):
        folder = root / f"inbox{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"n{i:04}.md").write_text(f"---\ntitle: Note {i}\n---\nBody {i}\n")
    made = LazyBrain(Settings(directory=root, home=tmp_path / "home", chunk_size=CHUNK))
    yield made
    made.close()


async def _until(gate: Gate) -> None:
    deadline = time.monotonic() + DEADLINE
    while not gate.reached.is_set():
        assert time.monotonic() < deadline, "the sync never reached the gated chunk"
        await anyio.sleep(0.02)


def _cli_status(tmp_path: Path) -> dict[str, Any]:
    env = {"BRAINSYNC_DIR": str(tmp_path / "brain"), "BRAINSYNC_HOME": str(tmp_path / "home")}
    done = brainsync(tmp_path, "status", "--json", env=env, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_k6_status_and_tools_answer_while_a_large_first_sync_runs(
    tmp_path: Path, lazy: LazyBrain, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(GATED_CHUNK)
    gate.install(monkeypatch)

    async def body(client: Client) -> None:
        job_id = (await _ok(client, "start_job", kind="sync"))["job_id"]
        await _until(gate)
        job = await _ok(client, "get_job", job_id=job_id)
        assert job["state"] == "running"
        done = job["progress"]["current"]
        assert 0 < done < FILES and job["progress"]["total"] == FILES
        status = await _ok(client, "brain_status", pending=False)
        assert status["entities"] == done  # the committed chunks, no more
        assert [(j["id"], j["state"]) for j in status["jobs"][:1]] == [(job_id, "running")]
        page = await _ok(client, "list_entities", type="note", limit=5)
        assert len(page["items"]) == 5
        cli = await anyio.to_thread.run_sync(_cli_status, tmp_path)
        assert cli["counts"] == {"note": done}
        assert [(j["id"], j["state"]) for j in cli["jobs"][:1]] == [(job_id, "running")]
        assert cli["jobs"][0]["progress"] == f"{done}/{FILES}"
        assert gate.shut  # every answer above came while the sync was held mid-way
        gate.open()
        while job["state"] in ("queued", "running"):
            job = await _ok(client, "get_job", job_id=job_id, wait_seconds=20)
        assert job["state"] == "succeeded" and job["result"]["created"] == FILES

    try:
        served(lazy, body, mode=mode)
    finally:
        gate.open()  # a failed check must not leave the worker waiting out the deadline
