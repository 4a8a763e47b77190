"""The contract between the job layer and the operations it runs.

An export, import or sync is written as a :class:`ChunkedOperation`: a slow ``plan`` that
splits the work into JSON-serialisable chunks, and an idempotent ``run_chunk``. The job
layer checkpoints the plan and the report of every chunk, so a resumed job neither
re-plans nor re-runs a finished chunk; only the chunk in flight at a crash or a forced
cancel runs again, which is why ``run_chunk`` must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from brainsync.report import Report

__all__ = ["Chunk", "ChunkedOperation", "OperationFactory"]

#: A JSON-serialisable description of one chunk of work (stored in the job's checkpoint).
Chunk = dict[str, Any]


class ChunkedOperation(Protocol):
    """One long operation split into idempotent chunks."""

    def plan(self) -> Sequence[Chunk]:
        """Split the work into chunks; may be slow; a ``BrainsyncError`` fails the job.

        A sequence may build each chunk when it is asked for: the job engine reads it
        once, a chunk at a time, storing each."""
        ...

    def run_chunk(self, chunk: Chunk) -> Report:
        """Do one chunk; running it twice gives the same files and rows."""
        ...

    def chunk_size(self, chunk: Chunk) -> int:
        """The number of items in ``chunk``, for progress."""
        ...


#: Builds the operation of a job from its kind and parameters: ``(kind, params) -> op``.
OperationFactory = Callable[[str, dict[str, Any]], ChunkedOperation]
