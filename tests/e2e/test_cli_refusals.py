"""Refusals keep the documented exit code and JSON: an unreadable sync folder is exit 5.

Root reads any folder whatever its mode, so as root the command runs without the
capabilities that bypass permission bits (``setpriv``); as another user, plainly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brainsync.errors import JobError, RootUnavailableError
from cli_runner import SAMPLE


def run_unprivileged(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``brainsync ARGS`` that permission bits apply to, also when the tests run as root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: root reads any folder")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "brainsync", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["sync"], ["export"], ["import"], ["sync", "--dry-run"]])
def test_unreadable_folder_is_exit_5_with_one_json_object(
    tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "brain"
    shutil.copytree(SAMPLE, folder)
    folder.chmod(0)
    try:
        done = run_unprivileged(tmp_path, "--dir", str(folder), *command, "--json")
    finally:
        folder.chmod(0o755)
    assert done.returncode == RootUnavailableError.exit_code, done.stderr
    error = json.loads(done.stdout)["error"]  # one JSON object, nothing else on stdout
    assert error["type"] == "RootUnavailableError" and error["exit_code"] == 5
    assert str(folder) in error["message"]
    assert "Traceback" not in done.stderr and "Usage" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brain"]  # no state folder (S4)


def test_an_unusable_state_folder_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "brain"
    shutil.copytree(SAMPLE, folder)
    home = tmp_path / "state"
    home.mkdir(mode=0)
    try:
        done = run_unprivileged(
            tmp_path, "--dir", str(folder), "--home", str(home), "sync", "--json"
        )
    finally:
        home.chmod(0o755)
    assert done.returncode == JobError.exit_code, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "JobError" and str(home) in error["message"]
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
