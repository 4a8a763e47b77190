"""B13 at the doors a user meets: ``entity put`` and the MCP tool ``put_entity``."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client

from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain, build_server
from cli_runner import brainsync

DEEP = ":".join(["d" * 250] * 20)  # each name fits; the path (5000+ bytes) does not


def test_entity_put_of_an_id_over_the_limits_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "brain-data").mkdir()
    for id_, limit in (("n" * 300, "NAME_MAX"), (DEEP, "PATH_MAX")):
        result = brainsync(tmp_path, "entity", "put", "note", id_, stdin="text\n")
        assert result.returncode == 2, result.stderr
        assert limit in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) <= 2, result.stderr
    listed = brainsync(tmp_path, "entity", "list")
    assert (
        listed.returncode == 0 and "d" * 250 not in listed.stdout and "n" * 300 not in listed.stdout
    )


def test_mcp_put_entity_of_an_id_over_the_limits_is_a_tool_error(tmp_path: Path) -> None:
    (tmp_path / "brain").mkdir()
    lazy = LazyBrain(Settings(directory=tmp_path / "brain", home=tmp_path / "home"))

    async def run() -> None:
        async with Client(build_server(lazy)) as client:
            for id_, limit in (("n" * 300, "NAME_MAX"), (DEEP, "PATH_MAX")):
                arguments = {"type": "note", "id": id_, "content": "x\n"}
                result = await client.call_tool("put_entity", arguments)
                text = "".join(getattr(block, "text", "") for block in result.content)
                assert result.is_error and limit in text and "/tmp" not in text, text
                assert len(text) < 600  # the id is cut in the message

    try:
        anyio.run(run)
    finally:
        lazy.close()
