"""MCP: cancelling leaves the server's stderr quiet, deletes are idempotent, unknown
arguments are refused by name, and tool texts speak of tools, not CLI commands."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_client import ok as _ok
from mcp_client import served
from mcp_client import text as _text

from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain
from brainsync.interfaces.mcp_views import tool_words

DEADLINE = 90.0


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[LazyBrain]:
    (tmp_path / "brain" / "inbox").mkdir(parents=True)
    for i in range(30):
        (tmp_path / "brain" / "inbox" / f"n{i:02}.md").write_text(f"note {i}\n")
    settings = Settings(
        directory=tmp_path / "brain",
        home=tmp_path / "home",
        chunk_size=1,
        chunk_pause_seconds=0.1,
    )
    opened = LazyBrain(settings)
    yield opened
    opened.close()


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while (job := await _ok(client, "get_job", job_id=job_id))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        await anyio.sleep(0.05)
    return job


class _Collect(logging.Handler):
    """A handler on the root logger, as the MCP SDK puts one there for the server's stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_cancelling_jobs_writes_no_traceback_to_the_server_log(lazy: LazyBrain) -> None:
    async def body(client: Client) -> None:
        first = (await _ok(client, "start_job", kind="import"))["job_id"]
        second = (await _ok(client, "start_job", kind="import"))["job_id"]  # queued behind
        queued = await _ok(client, "cancel_job", job_id=second)
        assert queued["state"] == "cancelled"
        await _ok(client, "cancel_job", job_id=first)
        assert (await _finished(client, first))["state"] == "cancelled"

    stderr = _Collect()
    logging.getLogger().addHandler(stderr)
    try:
        served(lazy, body)
    finally:
        logging.getLogger().removeHandler(stderr)
    # the job engine's records go to its log file, never to the root logger's handlers
    # (an MCP server's stderr, which its client keeps as the server log)
    engine = [r for r in stderr.records if r.name.split(".")[0] == "dbos"]
    assert engine == [], [r.getMessage() for r in engine]
    log_file = lazy.settings.state_home / "brainsync.log"
    assert "cancelled" in log_file.read_text()


def test_delete_twice_and_unknown_arguments(lazy: LazyBrain) -> None:
    async def body(client: Client) -> None:
        await _ok(client, "put_entity", type="note", id="x", content="x\n")
        first = await _ok(client, "delete_entity", type="note", id="x")
        assert first["deleted"] is True
        again = await _ok(client, "delete_entity", type="note", id="x")
        assert again["deleted"] is False
        assert again["note"] == "note:x was already absent from the database; nothing was deleted."
        stale = await client.call_tool(
            "delete_entity", {"type": "note", "id": "x", "if_version": 3}
        )
        assert stale.is_error and "version 0, not 3" in _text(stale)
        wrong = await client.call_tool("list_jobs", {"limit": 5, "sate": "queued"})
        assert wrong.is_error
        said = _text(wrong)
        assert "Unknown argument for list_jobs: sate." in said
        assert "It takes: cursor, limit, state." in said
        two = await client.call_tool("get_entity", {"type": "note", "id": "x", "a": 1, "b": 2})
        assert two.is_error and "get_entity: a, b." in _text(two)

    served(lazy, body)


def test_tool_texts_name_tools_not_commands(lazy: LazyBrain) -> None:
    async def body(client: Client) -> None:
        listed = await client.list_tools()
        for tool in listed.tools:
            assert "brainsync " not in (tool.description or ""), tool.name
        job_id = (await _ok(client, "start_job", kind="import"))["job_id"]
        job = await _finished(client, job_id)
        assert "brainsync " not in str(job)
        status = await _ok(client, "brain_status", pending=False)
        assert "brainsync job" not in str(status) and "brainsync status" not in str(status)

    served(lazy, body)
    said = tool_words(
        {
            "resolve": "brainsync sync deletes the entity; brainsync export --restore writes "
            "the file back",
            "note": ["run again with `brainsync sync --force-deletes`", "`brainsync jobs`"],
        }
    )
    assert said == {
        "resolve": "start_job sync deletes the entity; start_job export with restore writes "
        "the file back",
        "note": ["run again with start_job sync with force_deletes", "list_jobs"],
    }
