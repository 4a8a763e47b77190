"""What the MCP tests expect of the server's tool list (one table for all of them)."""

from __future__ import annotations

from typing import Any

__all__ = ["TOOLS", "hints_of"]

#: Every tool, with the annotations a client reads before calling it.
TOOLS = {
    # name: (readOnlyHint, destructiveHint, idempotentHint)
    "brain_status": (True, None, None),
    "list_entities": (True, None, None),
    "get_entity": (True, None, None),
    "put_entity": (False, True, True),
    "delete_entity": (False, True, True),
    "entity_history": (True, None, None),
    "revert_entity": (False, True, True),
    "start_job": (False, True, False),
    "get_job": (True, None, None),
    "list_jobs": (True, None, None),
    "cancel_job": (False, False, True),
    "resume_job": (False, True, True),
}


def hints_of(tools: list[Any]) -> dict[str, tuple[bool | None, bool | None, bool | None]]:
    """The annotations of listed tools, by name, in the shape of :data:`TOOLS`."""
    return {
        tool.name: (
            tool.annotations.read_only_hint,
            tool.annotations.destructive_hint,
            tool.annotations.idempotent_hint,
        )
        for tool in tools
        if tool.annotations is not None
    }
