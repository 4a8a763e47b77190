"""The MCP history tools (entity_history, revert_entity, get_entity's version) in-process."""

from __future__ import annotations

from pathlib import Path

from mcp import Client
from mcp_client import ok as _ok
from mcp_client import served
from mcp_client import text as _text

from brainsync.config import Settings
from brainsync.interfaces.mcp import LazyBrain


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

    try:
        served(lazy, body)
    finally:
        lazy.close()
