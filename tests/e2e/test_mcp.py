"""``brainsync mcp`` as agents use it: over stdio, over HTTP with a token, and in-process.

The stdio and HTTP tests start the server as a real subprocess and talk to it with the
SDK's own clients; the in-process tests use the SDK's in-memory client in both protocol
modes it offers (the 2025-11-25 handshake Claude Desktop sends, and the newer one).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from brainsync.config import Settings
from brainsync.errors import StoreError, TransientStoreError
from brainsync.interfaces.mcp import LazyBrain, build_server

TOOLS = {
    # name: (readOnlyHint, destructiveHint, idempotentHint)
    "brain_status": (True, None, None),
    "list_entities": (True, None, None),
    "get_entity": (True, None, None),
    "put_entity": (False, True, True),
    "delete_entity": (False, True, True),
    "start_job": (False, True, False),
    "get_job": (True, None, None),
    "list_jobs": (True, None, None),
    "cancel_job": (False, False, True),
    "resume_job": (False, True, True),
}
MODES = ["legacy", "2026-07-28"]
FILES = 2000


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
    return {**env, **extra}


def _args(tmp_path: Path, *rest: str) -> list[str]:
    brain, home = str(tmp_path / "brain"), str(tmp_path / "home")
    return ["-m", "brainsync", "--dir", brain, "--home", home, "mcp", *rest]


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def _error(result: CallToolResult) -> str:
    """The text of a tool error, checked to carry no internal detail."""
    assert result.is_error, result.structured_content
    text = _text(result)
    assert "Traceback" not in text and "site-packages" not in text and ".py" not in text
    return text


async def _ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def _follow(client: Client, job_id: str, progress: list[float]) -> dict[str, Any]:
    """get_job with waits until the job stops running (each call waits 20 s at most)."""

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    for _ in range(30):
        arguments = {"job_id": job_id, "wait_seconds": 20}
        result = await client.call_tool("get_job", arguments, progress_callback=on_progress)
        assert not result.is_error, _text(result)
        job = result.structured_content
        assert job is not None
        if job["state"] not in ("queued", "running"):
            return job
    raise AssertionError(f"job {job_id} never finished")


# -- stdio --------------------------------------------------------------------------------


def test_stdio_session_round_trip(tmp_path: Path) -> None:
    brain = tmp_path / "brain"
    (brain / "bulk").mkdir(parents=True)
    for i in range(FILES):
        (brain / "bulk" / f"file-{i:04}.md").write_text(f"---\ntitle: File {i}\n---\nBody {i}\n")
    params = StdioServerParameters(
        command=sys.executable, args=_args(tmp_path), env=_env(), cwd=str(tmp_path)
    )

    async def session() -> None:
        async with Client(params, mode="legacy") as client:
            listed = await client.list_tools()
            hints = {
                tool.name: (
                    tool.annotations.read_only_hint,
                    tool.annotations.destructive_hint,
                    tool.annotations.idempotent_hint,
                )
                for tool in listed.tools
                if tool.annotations is not None
            }
            assert hints == TOOLS
            assert all(tool.description and tool.output_schema for tool in listed.tools)
            assert not (tmp_path / "home").exists()  # initialize opened nothing
            await _entity_round_trip(client)
            await _sync_job(client, brain)
            await _stdio_errors(client)

    anyio.run(session)


async def _entity_round_trip(client: Client) -> None:
    doc = "---\ntitle: From an agent\ntags: [mcp]\n---\nWritten over stdio.\n"
    put = await _ok(client, "put_entity", type="post", id="agent:first", document=doc)
    assert put == {"type": "post", "id": "agent:first", "version": 1, "outcome": "created"}
    got = await _ok(client, "get_entity", type="post", id="agent:first")
    assert got["document"] == doc and got["metadata"]["title"] == "From an agent"
    assert got["truncated"] is False
    again = await _ok(client, "put_entity", type="post", id="agent:first", document=doc)
    assert again["outcome"] == "unchanged" and again["version"] == 1
    await _ok(client, "put_entity", type="note", id="scratch", content="to delete\n")
    page = await _ok(client, "list_entities")
    assert [(i["type"], i["id"]) for i in page["items"]] == [
        ("note", "scratch"),
        ("post", "agent:first"),
    ]
    assert page["items"][1]["title"] == "From an agent" and page["next_cursor"] is None
    deleted = await _ok(client, "delete_entity", type="note", id="scratch", if_version=1)
    assert deleted["deleted"] is True
    gone = await client.call_tool("get_entity", {"type": "note", "id": "scratch"})
    assert "list_entities" in _error(gone)


async def _sync_job(client: Client, brain: Path) -> None:
    started = await _ok(client, "start_job", kind="sync")
    assert started["state"] == "queued" and "get_job" in started["tip"]
    progress: list[float] = []
    job = await _follow(client, started["job_id"], progress)
    assert job["state"] == "succeeded", job
    assert job["result"]["created"] == FILES + 1 and job["result"]["errors"] == []
    assert progress and progress == sorted(progress) and progress[-1] == job["progress"]["total"]
    assert (brain / "post" / "agent" / "first.md").read_text().endswith("Written over stdio.\n")
    read_back = await _ok(client, "get_entity", type="note", id="bulk:file-1999")
    assert read_back["metadata"] == {"title": "File 1999"}
    jobs = await _ok(client, "list_jobs", state="succeeded")
    assert [item["id"] for item in jobs["items"]] == [started["job_id"]]
    status = await _ok(client, "brain_status", pending=False)
    assert status["counts"] == {"note": FILES, "post": 1} and status["jobs"]
    assert status["folders"] and status["folders"][0]["path"] == str(brain)


async def _stdio_errors(client: Client) -> None:
    too_many = await client.call_tool("list_entities", {"limit": 500})
    assert "limit" in _error(too_many)
    unknown_type = await client.call_tool("get_entity", {"type": "recipe", "id": "x"})
    assert "unknown entity type" in _error(unknown_type)
    unknown_job = await client.call_tool("get_job", {"job_id": "no-such-job"})
    assert "list_jobs" in _error(unknown_job)
    stale = {"type": "post", "id": "agent:first", "content": "late", "if_version": 7}
    lost = await client.call_tool("put_entity", stale)
    assert "version 1, not 7" in _error(lost) and "get_entity" in _error(lost)
    both = {"type": "note", "id": "x", "document": "a", "content": "b"}
    assert "either document" in _error(await client.call_tool("put_entity", both))
    bad_kind = await client.call_tool("start_job", {"kind": "backup"})
    assert "kind" in _error(bad_kind)
    got = await _ok(client, "get_entity", type="post", id="agent:first")
    assert got["version"] == 1  # the refused write changed nothing


# -- streamable HTTP ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_http_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    (tmp_path / "brain").mkdir()
    port = _free_port()
    done = subprocess.run(
        [sys.executable, *_args(tmp_path, "--http", f"0.0.0.0:{port}")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "without a bearer token" in done.stderr and "BRAINSYNC_MCP_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr and "MCP server on http" not in done.stderr
    assert not (tmp_path / "home").exists()  # refused before opening anything


@contextmanager
def _http_server(tmp_path: Path, address: str, token_by: str) -> Iterator[str]:
    """The server over HTTP with the token ``s3cret``; yields its /mcp URL when it listens."""
    (tmp_path / "brain").mkdir()
    port = _free_port()
    extra = ("--token", "s3cret") if token_by == "flag" else ()
    env = _env(BRAINSYNC_MCP_TOKEN="s3cret") if token_by == "env" else _env()
    args = [sys.executable, *_args(tmp_path, "--http", f"{address}:{port}", *extra)]
    server = subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # until it listens (or exits)
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=60)
        if server.stderr:
            server.stderr.close()


@asynccontextmanager
async def _http_client(url: str, token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=60)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@pytest.mark.parametrize(("address", "token_by"), [("127.0.0.1", "env"), ("0.0.0.0", "flag")])
def test_http_needs_the_bearer_token(tmp_path: Path, address: str, token_by: str) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "put_entity", "arguments": {"type": "note", "id": "x", "content": "y"}},
    }
    accept = {"Accept": "application/json, text/event-stream"}
    with _http_server(tmp_path, address, token_by) as url:
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            refused = httpx2.post(url, json=call, headers={**accept, **auth}, timeout=30)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")

        async def check() -> None:
            async with _http_client(url, "s3cret") as client:
                page = await _ok(client, "list_entities")
                assert page["items"] == []  # the refused calls changed nothing
                await _ok(client, "put_entity", type="note", id="x", content="y")
                assert (await _ok(client, "get_entity", type="note", id="x"))["version"] == 1

        anyio.run(check)


# -- in-process ---------------------------------------------------------------------------


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[LazyBrain]:
    (tmp_path / "brain").mkdir()
    brains = LazyBrain(Settings(directory=tmp_path / "brain", home=tmp_path / "home"))
    yield brains
    brains.close()


def _in_process(lazy: LazyBrain, mode: str, body: Callable[[Client], Awaitable[None]]) -> None:
    async def run() -> None:
        async with Client(build_server(lazy), mode=mode) as client:
            await body(client)

    anyio.run(run)


@pytest.mark.parametrize("mode", MODES)
def test_cursor_walks_every_entity_once(lazy: LazyBrain, mode: str) -> None:
    brain = lazy.brain()
    for i in range(250):
        brain.put_entity("note", f"n{i:03}", metadata={"title": f"Note {i}"}, content="x\n")

    async def walk(client: Client, **filters: Any) -> list[str]:
        ids: list[str] = []
        cursor = None
        for _ in range(20):
            page = await _ok(client, "list_entities", cursor=cursor, **filters)
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("the cursor never ended")

    async def body(client: Client) -> None:
        every = await walk(client, limit=100)
        assert every == [f"n{i:03}" for i in range(250)]
        found = await walk(client, limit=30, query="N1")
        assert found == [f"n{i:03}" for i in range(100, 200)]
        titled = await walk(client, limit=7, query="note 24")
        assert titled == ["n024", *(f"n{i}" for i in range(240, 250))]
        bad = await client.call_tool("list_entities", {"cursor": "not-a-cursor"})
        assert "without cursor" in _error(bad)

    _in_process(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_huge_note_is_read_in_slices(lazy: LazyBrain, mode: str) -> None:
    body_text = "".join(f"line {i:06} of a very long note\n" for i in range(3500))
    document = lazy.brain().put_entity("note", "huge", content=body_text).document
    assert len(document) > 100_000

    async def body(client: Client) -> None:
        first = await client.call_tool("get_entity", {"type": "note", "id": "huge"})
        assert len(_text(first)) < 25_000  # the whole result stays bounded
        parts, offset = [], 0
        while True:
            part = await _ok(client, "get_entity", type="note", id="huge", offset=offset)
            parts.append(part["document"])
            if not part["truncated"]:
                break
            assert part["next_offset"] > offset and f"offset={part['next_offset']}" in part["note"]
            offset = part["next_offset"]
        assert "".join(parts) == document and len(parts) == -(-len(document) // 10_000)
        too_big = await client.call_tool(
            "get_entity", {"type": "note", "id": "huge", "max_chars": 50_000}
        )
        assert "max_chars" in _error(too_big)
        past = await client.call_tool("get_entity", {"type": "note", "id": "huge", "offset": 10**6})
        assert "past the end" in _error(past)

    _in_process(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_store_errors_say_what_to_do_and_leak_nothing(
    lazy: LazyBrain, mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    brain = lazy.brain()
    brain.put_entity("note", "kept", content="v1\n")
    locked = TransientStoreError("database is locked")
    locked.__cause__ = sqlite3.OperationalError("database is locked")
    broken = StoreError(f"cannot write {tmp_path}/home/brain.sqlite: disk I/O error")

    def failing(error: Exception) -> Callable[..., Any]:
        def put_entity(*args: Any, **kwargs: Any) -> Any:
            raise error

        return put_entity

    async def body(client: Client) -> None:
        change = {"type": "note", "id": "kept", "content": "v2\n"}
        monkeypatch.setattr(brain, "put_entity", failing(locked))
        busy = _error(await client.call_tool("put_entity", change))
        assert "busy" in busy and "Retry" in busy and "sqlite" not in busy.lower()
        monkeypatch.setattr(brain, "put_entity", failing(broken))
        failed = _error(await client.call_tool("put_entity", change))
        assert "Retry later" in failed and str(tmp_path) not in failed
        monkeypatch.undo()
        stale = {"type": "note", "id": "kept", "if_version": 3}
        assert "not 3" in _error(await client.call_tool("delete_entity", stale))
        assert (await _ok(client, "get_entity", type="note", id="kept"))["document"] == "v1\n"
        resource = await client.read_resource("brain://entity/note/kept")
        assert [getattr(c, "text", None) for c in resource.contents] == ["v1\n"]

    _in_process(lazy, mode, body)
