"""Which DBOS queue a job waits on: one queue per host, and one for shared folders.

A folder lives on one host, so its jobs go to that host's queue (``brainsync-jobs@HOST``)
and only that host's workers listen to it. A folder on a mount every host reaches is
*shared*: its jobs go to the shared queue (``brainsync-jobs``, the name every job had
before hosts existed, so older queued jobs still run), which every worker listens to.

Every queue has ``partition_concurrency=1`` with the folder as partition key, so two jobs
of one folder never run at once on that queue. DBOS counts a partition per queue, so
the engine also refuses to queue a folder's job on one queue while the folder has an
unfinished job on another (a folder switched to or from shared in between).
"""

from __future__ import annotations

__all__ = ["SHARED_QUEUE", "host_of", "queue_for"]

SHARED_QUEUE = "brainsync-jobs"
_SEPARATOR = "@"


def queue_for(host: str | None) -> str:
    """The queue of jobs that run on ``host``; None: the shared queue (any host)."""
    return SHARED_QUEUE if host is None else f"{SHARED_QUEUE}{_SEPARATOR}{host}"


def host_of(queue_name: str | None) -> str | None:
    """The host whose workers serve ``queue_name``; None for the shared queue or none."""
    if queue_name is None or not queue_name.startswith(SHARED_QUEUE + _SEPARATOR):
        return None
    return queue_name[len(SHARED_QUEUE) + 1 :]
