"""A job's planned chunks, one row each, beside the job store's own tables.

The plan step is checkpointed so that a resumed job never plans again. Checkpointing
every planned item in that one step's output made a row that grew with the folder (about
90 bytes a file: 9 MB at 100k files, written and read back whole). Instead the plan step
stores each chunk in its own row here and checkpoints only their count and sizes; a chunk
step reads its one row. Writing the rows before the step's checkpoint keeps it
idempotent: a plan step that runs again after a crash replaces them all.

Rows of a finished job are dropped when it ends; a cancelled job keeps them for its
resumption.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from brainsync.errors import JobError, TransientStoreError
from brainsync.jobs.hosts import open_tables
from brainsync.jobs.operation import Chunk

__all__ = ["PlanPages"]

_metadata = sa.MetaData()
_chunks = sa.Table(
    "brainsync_plan_chunks",
    _metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("chunk", sa.Text, nullable=False),
)
#: Rows written per INSERT statement.
_BATCH = 100


class PlanPages:
    """The planned chunks of the jobs of one job store, one row per chunk."""

    def __init__(self, system_db_url: str) -> None:
        self._engine = open_tables(system_db_url, _metadata, pool_size=2)

    def close(self) -> None:
        """Close the connections."""
        self._engine.dispose()

    def save(self, job_id: str, chunks: Iterable[Chunk]) -> None:
        """Store ``job_id``'s chunks, replacing any an earlier attempt stored.

        Read a chunk at a time and written a batch of rows at a time: neither the JSON
        of a whole plan (9 MB at 100k files) nor all its chunks are held at once.
        """
        with _reaching("store the plan"), self._engine.begin() as conn:
            conn.execute(sa.delete(_chunks).where(_chunks.c.job_id == job_id))
            rows: list[dict[str, Any]] = []
            for index, chunk in enumerate(chunks):
                rows.append({"job_id": job_id, "idx": index, "chunk": json.dumps(chunk)})
                if len(rows) == _BATCH:
                    conn.execute(sa.insert(_chunks), rows)
                    rows = []
            if rows:
                conn.execute(sa.insert(_chunks), rows)

    def load(self, job_id: str, index: int) -> Chunk:
        """Chunk ``index`` of ``job_id``; JobError when it is not stored."""
        query = sa.select(_chunks.c.chunk).where(_chunks.c.job_id == job_id, _chunks.c.idx == index)
        with _reaching(f"read chunk {index}"), self._engine.connect() as conn:
            text = conn.execute(query).scalar()
        if text is None:
            raise JobError(f"chunk {index} of job {job_id} is missing from the job store")
        chunk: Any = json.loads(text)
        return dict(chunk)

    def drop(self, job_id: str) -> None:
        """Forget ``job_id``'s chunks (it finished)."""
        with _reaching("drop the plan"), self._engine.begin() as conn:
            conn.execute(sa.delete(_chunks).where(_chunks.c.job_id == job_id))

    def count(self, job_id: str) -> int:
        """How many chunks of ``job_id`` are stored."""
        query = sa.select(sa.func.count()).where(_chunks.c.job_id == job_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


@contextmanager
def _reaching(doing: str) -> Iterator[None]:
    """Turn a lost or refused job-store connection into TransientStoreError, which the
    job's step retries with back-off (a PostgreSQL restart under a running worker)."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise TransientStoreError(f"could not {doing}: the job store is unreachable") from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise TransientStoreError(f"could not {doing}: lost the job store") from exc
        raise
