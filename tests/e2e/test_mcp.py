"""``brainsync mcp`` as agents use it: a real subprocess over stdio, and over HTTP with a token.

These tests start the server as a subprocess and talk to it with the SDK's own clients;
every tool in both protocol modes, through the SDK's in-process client, is in
``test_mcp_tools.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_expected import TOOLS, hints_of
from mcp_types import CallToolResult, TextContent

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
            hints = hints_of(listed.tools)
            assert hints == TOOLS
            assert all(tool.description and tool.output_schema for tool in listed.tools)
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
