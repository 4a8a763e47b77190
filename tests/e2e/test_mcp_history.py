"""The MCP history tools (entity_history, revert_entity, get_entity's version) in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp_types import CallToolResult, TextContent

from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain, build_server


def _text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def _ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


def test_history_revert_and_old_versions(tmp_path: Path) -> None:
    (tmp_path / "brain").mkdir()
    lazy = LazyBrain(Settings(directory=tmp_path / "brain", home=tmp_path / "home"))

    async def body(client: Client) -> None:
        for n in (1, 2):
            await _ok(client, "put_entity", type="note", id="h", document=f"v{n}\n")
        history = await _ok(client, "entity_history", type="note", id="h")
        assert [(i["version"], i["writer"]) for i in history["items"]] == [(1, "mcp"), (2, "mcp")]
        assert history["omitted"] == 0
        old = await _ok(client, "get_entity", type="note", id="h", version=1)
        assert (old["version"], old["document"]) == (1, "v1\n")
        lost = await client.call_tool(
            "revert_entity", {"type": "note", "id": "h", "to": 1, "if_version": 1}
        )
        assert lost.is_error and "version 2, not 1" in _text(lost)
        done = await _ok(client, "revert_entity", type="note", id="h", to=1, if_version=2)
        assert (done["version"], done["outcome"]) == (3, "updated")
        history = await _ok(client, "entity_history", type="note", id="h")
        assert history["items"][-1]["writer"] == "mcp (revert to 1)"
        missing = await client.call_tool("entity_history", {"type": "note", "id": "nope"})
        assert missing.is_error and "no entity note:nope" in _text(missing)

    async def run() -> None:
        async with Client(build_server(lazy, warm_up=False), mode="legacy") as client:
            await body(client)

    try:
        anyio.run(run)
    finally:
        lazy.close()
