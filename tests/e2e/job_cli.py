"""The CLI as the job tests run it: on ``tmp_path/"brain-data"`` with one worker's id.

Every command runs in ``tmp_path`` (as :func:`cli_runner.brainsync`, without the test
run's ``BRAINSYNC_*`` variables) with the executor id :data:`EXECUTOR`; keyword
arguments add ``BRAINSYNC_*`` settings, e.g. ``BRAINSYNC_JOBS_DB=...``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_runner import brainsync as run_cli
from cli_runner import user_env

__all__ = ["EXECUTOR", "brainsync", "folder_env", "jobs", "start"]

#: The executor id of every command, so that they share one worker lock file.
EXECUTOR = "e2e-worker"


def folder_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The whole environment of a command on ``tmp_path/"brain-data"``."""
    folder = {"BRAINSYNC_DIR": str(tmp_path / "brain-data"), "BRAINSYNC_EXECUTOR_ID": EXECUTOR}
    return user_env({**folder, **extra})


def brainsync(
    tmp_path: Path, *args: str, stdin: str | None = None, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``brainsync ARGS`` run to its end."""
    return run_cli(tmp_path, *args, stdin=stdin, env=folder_env(tmp_path, **extra), timeout=timeout)


def start(tmp_path: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    """``brainsync ARGS`` started in the background; its pipes are read at its end."""
    return subprocess.Popen(
        [sys.executable, "-m", "brainsync", *args],
        cwd=tmp_path,
        env=folder_env(tmp_path, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def jobs(tmp_path: Path, *args: str, **extra: str) -> list[dict[str, object]]:
    """``brainsync jobs --json ARGS``, which must succeed: the jobs listed, newest first."""
    listed = brainsync(tmp_path, "jobs", "--json", *args, **extra)
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, object]] = json.loads(listed.stdout)
    return found
