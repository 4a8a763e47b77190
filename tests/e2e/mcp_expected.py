"""What the MCP tests expect of the server's tool list (one table for all of them)."""

from __future__ import annotations

__all__ = ["TOOLS"]

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
