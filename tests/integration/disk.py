"""Writing and reading a folder's files in tests, to compare bytes and mtimes; small
disks (a tmpfs the test mounts) to fill up."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Disk", "FileState", "grep_tree", "resize_disk", "small_disk", "temp_files"]


@dataclass(frozen=True)
class FileState:
    """A file's bytes and mtime, to compare before and after a run."""

    data: bytes
    mtime_ns: int


class Disk:
    """Writes and reads files under one folder (the sync root, by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, data: str | bytes, *, mtime_ns: int | None = None) -> Path:
        """Write ``rel`` (folders made) and optionally set its mtime."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        return path

    def edit(self, rel: str, data: str | bytes) -> Path:
        """Rewrite ``rel`` and move its mtime forward, so no stat can miss the edit."""
        path = self.root / rel
        before = path.stat().st_mtime_ns
        self.write(rel, data)
        later = max(path.stat().st_mtime_ns, before + 2_000_000_000)
        os.utime(path, ns=(later, later))
        return path

    def read(self, rel: str) -> bytes:
        """The bytes of ``rel``."""
        return (self.root / rel).read_bytes()

    def tree(self) -> dict[str, FileState]:
        """Every file under the folder (dot-folders too), by relative POSIX path."""
        found: dict[str, FileState] = {}
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(folder) / name
                rel = path.relative_to(self.root).as_posix()
                found[rel] = FileState(path.read_bytes(), path.stat().st_mtime_ns)
        return found


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount -o size=``) mounted at ``path`` while the block runs.

    Where mounting is not allowed (not root, no ``mount``) the test skips with the reason;
    under ``CI=true`` it fails instead, since there the disk-full tests must run.
    """
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    done = (
        subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if mount and os.geteuid() == 0
        else None
    )
    if done is None or done.returncode != 0:
        reason = "cannot mount a tmpfs here (needs root and mount)"
        reason += f": {done.stderr.strip()}" if done is not None else ""
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def resize_disk(path: Path, size: str) -> None:
    """Give the tmpfs at ``path`` a new size (space freed, or taken away)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def grep_tree(root: Path, marker: bytes) -> list[str]:
    """Every file under ``root`` whose bytes contain ``marker``."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if marker in path.read_bytes():
                found.append(str(path))
    return found


def temp_files(root: Path) -> list[str]:
    """brainsync's temp files left under ``root`` (a half-written file would be one)."""
    return [str(p) for p in root.rglob("*.brainsync-tmp")]
