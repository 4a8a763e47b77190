"""Writing and reading a folder's files in tests, to compare bytes and mtimes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Disk", "FileState"]


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
