"""Every MCP tool through the SDK's in-process client, in both protocol modes it offers.

``legacy`` is the 2025-11-25 ``initialize`` handshake Claude Desktop sends; ``2026-07-28``
adopts the newer protocol directly. Each test runs in both, against a real brain in a
temporary folder, and covers the catalogue rows: M1 (bad arguments, unknown ids, lost
``if_version`` races, a locked store come back as tool errors saying what to do next, with
nothing internal in them), M2 (jobs: an id at once, progress, cancel and resume) and M3
(bounded results, cursors). Waits poll a condition against a generous deadline; no test
asserts how long anything took.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_expected import TOOLS, hints_of
from mcp_types import CallToolResult, TextContent

from brainsync.config import Settings
from brainsync.errors import StoreError, TransientStoreError
from brainsync.interfaces.mcp import LazyBrain, ServeRequest, build_server, parse_command_line

MODES = ["legacy", "2026-07-28"]
DEADLINE = 90.0  # seconds a condition may take on a loaded machine before a test fails

Body = Callable[[Client], Awaitable[None]]
BrainFactory = Callable[..., LazyBrain]


@pytest.fixture
def brains(tmp_path: Path) -> Iterator[BrainFactory]:
    """Make the server's lazy brain over ``tmp_path/brain`` with settings overrides."""
    made: list[LazyBrain] = []

    def make(*, watch: bool = False, **overrides: Any) -> LazyBrain:
        (tmp_path / "brain").mkdir(exist_ok=True)
        settings = Settings(directory=tmp_path / "brain", home=tmp_path / "home", **overrides)
        made.append(LazyBrain(settings, watch=watch))
        return made[-1]

    yield make
    for lazy in made:
        lazy.close()


def _session(lazy: LazyBrain, mode: str, body: Body, *, warm_up: bool = False) -> None:
    async def run() -> None:
        async with Client(build_server(lazy, warm_up=warm_up), mode=mode) as client:
            await body(client)

    anyio.run(run)


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def _error(result: CallToolResult) -> str:
    """The text of a tool error, checked to carry no internal detail."""
    assert result.is_error, result.structured_content
    text = _text(result)
    assert text and "Traceback" not in text and "site-packages" not in text
    assert ".py" not in text and "/tmp" not in text and "sqlalchemy" not in text.lower()
    return text


async def _ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def _fails(client: Client, tool: str, **arguments: Any) -> str:
    return _error(await client.call_tool(tool, arguments))


async def _job_until(
    client: Client, job_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll get_job (no wait) until ``done(job)``; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        job = await _ok(client, "get_job", job_id=job_id)
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job never reached the condition: {job}"
        await anyio.sleep(0.02)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``check()`` holds; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await anyio.sleep(0.05)


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    return await _job_until(client, job_id, lambda job: job["state"] not in ("queued", "running"))


def _write_notes(lazy: LazyBrain, count: int, folder: str = "inbox") -> None:
    root = lazy.settings.root / folder
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / f"n{i:03}.md").write_text(f"---\ntitle: Note {i}\n---\nBody {i}\n")


# -- the tool list -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_tool_is_listed_with_hints_and_schemas(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
    home = lazy.settings.state_home

    async def body(client: Client) -> None:
        assert not home.exists()  # the handshake opened nothing
        listed = await client.list_tools()
        hints = hints_of(listed.tools)
        assert hints == TOOLS
        for tool in listed.tools:
            assert tool.description and tool.output_schema, tool.name
            properties = tool.input_schema.get("properties", {})
            assert all(p.get("description") for n, p in properties.items()), tool.name
        assert not home.exists()  # listing opened nothing either

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_the_brain_opens_in_the_background_after_the_handshake(
    brains: BrainFactory, mode: str
) -> None:
    lazy = brains()
    jobs_db = Path(lazy.settings.jobs_url.removeprefix("sqlite:///"))

    async def opened() -> bool:
        return jobs_db.exists()

    async def body(client: Client) -> None:
        await client.list_tools()  # legacy: already after notifications/initialized
        await _until(opened, "the job engine opened without a tool call")
        started = await _ok(client, "start_job", kind="export", dry_run=True)
        assert (await _finished(client, started["job_id"]))["state"] == "succeeded"

    _session(lazy, mode, body, warm_up=True)


# -- entities ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_entity_tools_round_trip_and_refuse_stale_versions(brains: BrainFactory, mode: str) -> None:
    async def body(client: Client) -> None:
        doc = "---\ntitle: First\n---\nHello.\n"
        made = await _ok(client, "put_entity", type="note", id="a:first", document=doc)
        assert made == {"type": "note", "id": "a:first", "version": 1, "outcome": "created"}
        same = await _ok(client, "put_entity", type="note", id="a:first", document=doc)
        assert same["outcome"] == "unchanged" and same["version"] == 1
        parts = {"metadata": {"title": "Second"}, "content": "Changed.\n", "if_version": 1}
        changed = await _ok(client, "put_entity", type="note", id="a:first", **parts)
        assert changed["outcome"] == "updated" and changed["version"] == 2
        got = await _ok(client, "get_entity", type="note", id="a:first")
        assert got["metadata"] == {"title": "Second"} and got["document"].endswith("Changed.\n")
        assert (got["version"], got["truncated"], got["next_offset"]) == (2, False, None)
        # a lost race: the write based on version 1 changes nothing
        lost = await _fails(
            client, "put_entity", type="note", id="a:first", content="x", if_version=1
        )
        assert "version 2, not 1" in lost and "get_entity" in lost
        exists = await _fails(
            client, "put_entity", type="note", id="a:first", content="x", if_version=0
        )
        assert "not 0" in exists
        await _ok(client, "put_entity", type="note", id="b", content="new\n", if_version=0)
        stale = await _fails(client, "delete_entity", type="note", id="b", if_version=5)
        assert "version 1, not 5" in stale
        assert (await _ok(client, "get_entity", type="note", id="a:first"))["version"] == 2
        deleted = await _ok(client, "delete_entity", type="note", id="b", if_version=1)
        assert deleted["deleted"] is True and "start_job" in deleted["note"]
        page = await _ok(client, "list_entities")
        assert [(i["type"], i["id"], i["version"]) for i in page["items"]] == [
            ("note", "a:first", 2)
        ]

    _session(brains(), mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_history_and_revert_bring_an_old_version_back(brains: BrainFactory, mode: str) -> None:
    async def body(client: Client) -> None:
        await _ok(client, "put_entity", type="note", id="h", content="one\n")
        await _ok(client, "put_entity", type="note", id="h", content="two\n")
        history = await _ok(client, "entity_history", type="note", id="h")
        assert [item["version"] for item in history["items"]] == [1, 2]
        assert {item["writer"] for item in history["items"]} == {"mcp"} and history["omitted"] == 0
        old = await _ok(client, "get_entity", type="note", id="h", version=1)
        assert old["document"] == "one\n"
        lost = await _fails(client, "revert_entity", type="note", id="h", to=1, if_version=1)
        assert "not 1" in lost
        back = await _ok(client, "revert_entity", type="note", id="h", to=1, if_version=2)
        assert back["version"] == 3 and back["outcome"] == "updated"
        assert (await _ok(client, "get_entity", type="note", id="h"))["document"] == "one\n"
        missing = await _fails(client, "get_entity", type="note", id="h", version=9)
        assert "no version 9" in missing
        none = await _fails(client, "entity_history", type="note", id="never")
        assert "no entity" in none and "list_entities" in none

    _session(brains(), mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_and_unknown_ids_say_what_to_do(brains: BrainFactory, mode: str) -> None:
    async def body(client: Client) -> None:
        assert "limit" in await _fails(client, "list_entities", limit=500)
        assert "limit" in await _fails(client, "list_jobs", limit=0)
        missing = await _fails(client, "get_entity", type="note")
        assert "id" in missing and "Fix them" in missing
        assert "type" in await _fails(client, "get_entity", type=["note"], id="x")
        assert "unknown entity type 'recipe'" in await _fails(
            client, "get_entity", type="recipe", id="x"
        )
        unknown = await _fails(client, "get_entity", type="note", id="nobody")
        assert "no entity note:nobody" in unknown and "list_entities" in unknown
        absent = await _ok(client, "delete_entity", type="note", id="nobody")
        assert absent["deleted"] is False and "already absent" in absent["note"]
        both = await _fails(client, "put_entity", type="note", id="x", document="a", content="b")
        assert "either document" in both
        assert "either document" in await _fails(client, "put_entity", type="note", id="x")
        assert "empty" in await _fails(client, "put_entity", type="note", id="", content="x")
        assert "NUL" in await _fails(client, "put_entity", type="note", id="x", content="a\x00b")
        assert "wait_seconds" in await _fails(client, "get_job", job_id="x", wait_seconds=60)
        assert "kind" in await _fails(client, "start_job", kind="backup")
        assert "conflict" in await _fails(client, "start_job", kind="sync", conflict="coin-toss")
        assert "unknown entity type" in await _fails(
            client, "start_job", kind="export", types=["recipe"]
        )
        assert "state" in await _fails(client, "list_jobs", state="lost")
        for tool in ("get_job", "cancel_job", "resume_job"):
            text = await _fails(client, tool, job_id="no-such-job")
            assert "no-such-job" in text and "list_jobs" in text, (tool, text)
        assert "without cursor" in await _fails(client, "list_jobs", cursor="garbage")
        assert (await _ok(client, "list_entities"))["items"] == []  # nothing was written

    _session(brains(), mode, body)


# -- bounds and paging ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_cursor_walks_every_entity_once(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
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
        assert await walk(client, type="post") == []
        assert "without cursor" in await _fails(client, "list_entities", cursor="not-a-cursor")
        jobs_cursor = (await _ok(client, "list_entities", limit=1))["next_cursor"]
        assert "without cursor" in await _fails(client, "list_jobs", cursor=jobs_cursor)

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_huge_note_is_read_in_slices(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
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
        too_big = await _fails(client, "get_entity", type="note", id="huge", max_chars=50_000)
        assert "max_chars" in too_big
        past = await _fails(client, "get_entity", type="note", id="huge", offset=10**6)
        assert "past the end" in past

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_status_lists_are_cut_with_a_note(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
    bad = lazy.settings.root / "bad"
    bad.mkdir(parents=True)
    for i in range(30):  # invalid front matter: each one is an error of the pending sync
        (bad / f"b{i:02}.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    lazy.brain().put_entity("post", "p", metadata={"title": "P"}, content="post\n")

    async def body(client: Client) -> None:
        result = await client.call_tool("brain_status", {})
        status = result.structured_content
        assert not result.is_error and status is not None, _text(result)
        assert len(_text(result)) < 25_000
        assert status["counts"] == {"post": 1} and status["entities"] == 1
        pending = status["pending"]
        assert len(pending["errors"]) == 20 and pending["omitted"]["errors"] == 10
        assert "first 20" in pending["note"]
        assert all(error["path"].startswith("bad/") for error in pending["errors"])
        quick = await _ok(client, "brain_status", pending=False)
        assert quick["pending"] is None and quick["counts"] == {"post": 1}

    _session(lazy, mode, body)


# -- jobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_start_job_then_get_job_waits_with_progress(brains: BrainFactory, mode: str) -> None:
    lazy = brains(chunk_size=5)
    _write_notes(lazy, 40)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def body(client: Client) -> None:
        started = await _ok(client, "start_job", kind="sync")
        assert started["state"] == "queued" and "get_job" in started["tip"]
        job_id = started["job_id"]
        job: dict[str, Any] = {"state": "queued"}
        deadline = time.monotonic() + DEADLINE
        while job["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            arguments = {"job_id": job_id, "wait_seconds": 20}
            result = await client.call_tool("get_job", arguments, progress_callback=on_progress)
            assert not result.is_error and result.structured_content, _text(result)
            job = result.structured_content
        assert job["state"] == "succeeded" and "result has the counts" in job["tip"]
        assert job["result"]["created"] == 40 and job["result"]["errors"] == []
        assert job["progress"]["current"] == job["progress"]["total"] == 40
        values = [value for value, _, _ in progress]
        assert values and values == sorted(values) and values[-1] == 40
        assert any(message and "sync" in message for _, _, message in progress)
        again = await _ok(client, "get_job", job_id=job_id, wait_seconds=5)
        assert again["state"] == "succeeded"  # a finished job answers at once
        read = await _ok(client, "get_entity", type="note", id="inbox:n039")
        assert read["metadata"] == {"title": "Note 39"}

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_list_jobs_pages_newest_first(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
    lazy.brain().put_entity("note", "x", content="x\n")

    async def body(client: Client) -> None:
        ids = [(await _ok(client, "start_job", kind="export", dry_run=True))["job_id"]]
        for _ in range(4):
            ids.append((await _ok(client, "start_job", kind="export", dry_run=True))["job_id"])
        for job_id in ids:
            assert (await _finished(client, job_id))["state"] == "succeeded"
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            page = await _ok(client, "list_jobs", limit=2, cursor=cursor)
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            pages, cursor = pages + 1, page["next_cursor"]
            if cursor is None:
                break
            assert pages < 10, "the cursor never ended"
        assert seen == ids[::-1] and pages == 3
        done = await _ok(client, "list_jobs", state="succeeded", limit=100)
        assert {item["id"] for item in done["items"]} == set(ids)
        assert all(item["kind"] == "export" for item in done["items"])
        assert (await _ok(client, "list_jobs", state="failed"))["items"] == []

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_cancel_stops_a_job_mid_way_and_resume_finishes_it(brains: BrainFactory, mode: str) -> None:
    # one file per chunk and a pause before each: the cancel lands long before the end
    lazy = brains(chunk_size=1, chunk_pause_seconds=0.1)
    _write_notes(lazy, 20)

    async def body(client: Client) -> None:
        job_id = (await _ok(client, "start_job", kind="import"))["job_id"]
        await _job_until(client, job_id, lambda job: job["progress"]["current"] >= 1)
        asked = await _ok(client, "cancel_job", job_id=job_id)
        assert asked["state"] in ("running", "cancelled")  # a running job stops at a boundary
        stopped = await _finished(client, job_id)
        assert stopped["state"] == "cancelled" and "resume_job" in stopped["tip"]
        assert 1 <= stopped["progress"]["current"] < 20
        count = len((await _ok(client, "list_entities", limit=100))["items"])
        assert 1 <= count < 20  # what it wrote stays
        again = await _ok(client, "cancel_job", job_id=job_id)
        assert again["state"] == "cancelled"  # idempotent
        resumed = await _ok(client, "resume_job", job_id=job_id)
        assert resumed["state"] in ("queued", "running", "succeeded")
        finished = await _finished(client, job_id)
        assert finished["state"] == "succeeded"
        assert len((await _ok(client, "list_entities", limit=100))["items"]) == 20
        twice = await _fails(client, "resume_job", job_id=job_id)
        assert "succeeded" in twice and "get_job" in twice
        kept = await _ok(client, "cancel_job", job_id=job_id)
        assert kept["state"] == "succeeded"  # a finished job stays as it is

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_job_reports_its_error_fields(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
    _write_notes(lazy, 20, "many")

    async def body(client: Client) -> None:
        job_id = (await _ok(client, "start_job", kind="import"))["job_id"]
        assert (await _finished(client, job_id))["state"] == "succeeded"
        for i in range(12):  # more than half the folder: refused without force_deletes
            (lazy.settings.root / "many" / f"n{i:03}.md").unlink()
        refused = (await _ok(client, "start_job", kind="sync"))["job_id"]
        job = await _finished(client, refused)
        assert job["state"] == "failed" and "fix the cause" in job["tip"]
        assert job["failure"]["type"] == "MassDeleteError" and job["failure"]["exit_code"] > 1
        assert "force" in job["error"]
        summary = (await _ok(client, "list_jobs", state="failed"))["items"]
        assert [item["id"] for item in summary] == [refused] and summary[0]["summary"]

    _session(lazy, mode, body)


# -- watch mode ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_watch_mode_runs_beside_the_server_and_shows_in_status(
    brains: BrainFactory, mode: str
) -> None:
    lazy = brains(watch=True, watch_debounce_ms=50, watch_poll_seconds=0.2)
    _write_notes(lazy, 3)

    async def watching(client: Client) -> bool:
        status = await _ok(client, "brain_status", pending=False)
        modes = [state["mode"] for state in status["watch"]]
        return status["watch_note"] == "This server watches the folder." and modes == ["watching"]

    async def body(client: Client) -> None:
        await client.list_tools()
        await _until(lambda: watching(client), "watch mode running, in brain_status")

        async def imported(count: int) -> bool:
            return len((await _ok(client, "list_entities"))["items"]) == count

        await _until(lambda: imported(3), "the startup reconcile imported the folder")
        (lazy.settings.root / "inbox" / "late.md").write_text("---\ntitle: Late\n---\nnew\n")
        await _until(lambda: imported(4), "a new file was picked up by the watcher")
        late = await _ok(client, "get_entity", type="note", id="inbox:late")
        assert late["metadata"] == {"title": "Late"}

    _session(lazy, mode, body, warm_up=True)


def test_watch_mode_that_cannot_start_says_why(brains: BrainFactory, tmp_path: Path) -> None:
    lazy = brains(watch=True)
    (tmp_path / "brain").rmdir()  # the folder is gone: watching it would delete everything

    async def body(client: Client) -> None:
        await client.list_tools()

        async def told() -> bool:
            note = (await _ok(client, "brain_status", pending=False))["watch_note"]
            return note is not None and note.startswith("watch mode could not start")

        await _until(told, "brain_status says why watch mode is not running")

    _session(lazy, "legacy", body, warm_up=True)


# -- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["mcp"], ServeRequest({})),
        (
            ["--dir", "b", "--home=h", "-v", "mcp", "--http", "8765", "--token=t", "--watch"],
            ServeRequest(
                {"directory": Path("b"), "home": Path("h"), "mcp_token": "t"},
                verbose=True,
                http="8765",
                watch=True,
            ),
        ),
        (
            ["--config", "c.toml", "--db", "sqlite:///x", "mcp"],
            ServeRequest({"db": "sqlite:///x"}, config=Path("c.toml")),
        ),
        (["mcp", "--help"], None),
        (["mcp", "--watch=yes"], None),
        (["--dir", "mcp"], None),
        (["status"], None),
        (["mcp", "--http"], None),
        ([], None),
    ],
)
def test_the_quick_path_reads_only_plain_mcp_command_lines(
    argv: list[str], expected: ServeRequest | None
) -> None:
    assert parse_command_line(argv) == expected


# -- the store failing ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_locked_store_is_busy_and_nothing_changes(brains: BrainFactory, mode: str) -> None:
    lazy = brains()
    brain = lazy.brain()
    brain.put_entity("note", "kept", content="v1\n")
    brain.store.retry_attempts = 1  # one busy wait (busy_timeout) is enough to show it
    database = lazy.settings.store_url.removeprefix("sqlite:///")

    async def body(client: Client) -> None:
        holder = sqlite3.connect(database, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            busy = await _fails(client, "put_entity", type="note", id="kept", content="v2\n")
            assert "busy" in busy and "Retry" in busy
        finally:
            holder.close()
        assert (await _ok(client, "get_entity", type="note", id="kept"))["document"] == "v1\n"
        done = await _ok(client, "put_entity", type="note", id="kept", content="v2\n")
        assert done["version"] == 2  # and once the lock is gone, the retry goes through

    _session(lazy, mode, body)


@pytest.mark.parametrize("mode", MODES)
def test_store_errors_say_what_to_do_and_leak_nothing(
    brains: BrainFactory, mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lazy = brains()
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
        busy = await _fails(client, "put_entity", **change)
        assert "busy" in busy and "Retry" in busy and "sqlite" not in busy.lower()
        monkeypatch.setattr(brain, "put_entity", failing(broken))
        failed = await _fails(client, "put_entity", **change)
        assert "Retry later" in failed and str(tmp_path) not in failed
        monkeypatch.undo()
        assert (await _ok(client, "get_entity", type="note", id="kept"))["document"] == "v1\n"
        resource = await client.read_resource("brain://entity/note/kept")
        assert [getattr(c, "text", None) for c in resource.contents] == ["v1\n"]

    _session(lazy, mode, body)
