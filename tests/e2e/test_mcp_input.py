"""MCP input refused at the door: an entity larger than ``max_file_bytes`` (B15)."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client
from mcp_types import TextContent

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain, build_server


def test_put_entity_larger_than_the_file_limit_is_a_tool_error(tmp_path: Path) -> None:
    (tmp_path / "brain").mkdir()
    settings = Settings(directory=tmp_path / "brain", home=tmp_path / "home", max_file_bytes=300)
    lazy = LazyBrain(settings, watch=False)

    async def run() -> None:
        async with Client(build_server(lazy), mode="legacy") as client:
            big = {"type": "note", "id": "big", "content": "x" * 301}
            result = await client.call_tool("put_entity", big)
            assert result.is_error
            text = "".join(b.text for b in result.content if isinstance(b, TextContent))
            assert "300-byte limit (max_file_bytes)" in text and "301-byte file" in text
            fits = {"type": "note", "id": "fits", "content": "x" * 300}
            assert not (await client.call_tool("put_entity", fits)).is_error

    try:
        anyio.run(run)
    finally:
        lazy.close()
    with Brain(settings) as brain:
        assert [e.id for e in brain.list_entities()] == ["fits"]
