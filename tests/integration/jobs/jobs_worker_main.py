"""A worker process for the crash tests: ``python jobs_worker_main.py URL EXECUTOR_ID``."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from jobs_fakeop import factory

from brainsync.jobs import JobService, run_worker


def main() -> None:
    url, executor_id = sys.argv[1], sys.argv[2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with JobService(
        url, factory, executor_id=executor_id, poll_interval_seconds=0.05, start_worker=True
    ) as service:
        print("ready", flush=True)
        run_worker(service, stop)


if __name__ == "__main__":
    main()
