"""Running the CLI as a user does: a subprocess in a folder, without our environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["SAMPLE", "brainsync", "user_env"]

#: The sample notes shipped with the project.
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-brain"


def user_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its ``BRAINSYNC_*`` variables, then ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
    full_env.update(env or {})
    return full_env


def brainsync(
    tmp_path: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    code: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``brainsync ARGS`` run in ``tmp_path``; ``code`` runs that Python instead of ``-m``.

    ``BRAINSYNC_*`` variables of the test run are dropped so that only ``env`` counts.
    """
    runner = ["-c", code] if code else ["-m", "brainsync"]
    return subprocess.run(
        [sys.executable, *runner, *args],
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        env=user_env(env),
        timeout=timeout,
        check=False,
    )
