"""The MCP tools through the SDK's in-process client, as the MCP tests call them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp import Client
from mcp_types import CallToolResult, TextContent

from brainsync.interfaces.mcp import LazyBrain, build_server

__all__ = ["ok", "served", "text"]


def text(result: CallToolResult) -> str:
    """The text blocks of a tool's result, joined."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of ``tool``, which must succeed."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


def served(
    lazy: LazyBrain, body: Callable[[Client], Awaitable[None]], *, mode: str = "legacy"
) -> None:
    """``body`` run to its end with a client of the server over ``lazy``, in-process."""

    async def session() -> None:
        async with Client(build_server(lazy), mode=mode) as client:
            await body(client)

    anyio.run(session)
