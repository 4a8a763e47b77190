"""Which paths under the sync root a sync never looks at.

Dot-folders (``.git``, ``.obsidian``, our own state), ``_``-prefixed folders, editor temp
and swap files, conflict copies, quarantined ``.invalid`` files, paths with ``{`` (merge
tools), and whatever ``.brainsyncignore`` lists in gitignore syntax.
"""

from __future__ import annotations

import re
from pathlib import Path

import pathspec

__all__ = ["CONFLICT_COPY", "IGNORE_FILE", "IgnoreRules"]

IGNORE_FILE = ".brainsyncignore"
#: Conflict copies: ``<stem>.conflict-<8 hex>.md``, written beside the file, never imported.
CONFLICT_COPY = re.compile(r"\.conflict-[0-9a-f]{8}\.md$")
_TEMP_FILE = re.compile(r"(^~|~$|^#.*#$|\.(tmp|swp|swo|swx|bak|part|crdownload)$)", re.IGNORECASE)


class IgnoreRules:
    """Decides, name by name while walking, what the scan skips."""

    def __init__(self, root: Path) -> None:
        self._spec: pathspec.GitIgnoreSpec | None = None
        ignore_file = root / IGNORE_FILE
        if ignore_file.is_file():
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    def skip_dir(self, rel_dir: str, name: str) -> bool:
        """True for folders the walk must not enter."""
        if name.startswith((".", "_")) or "{" in name:
            return True
        return self._spec is not None and self._spec.match_file(rel_dir + "/")

    def skip_file(self, rel_path: str, name: str) -> bool:
        """True for files that are not entity files (or that the user excluded)."""
        if not name.endswith(".md") or name.startswith(".") or "{" in name:
            return True
        if _TEMP_FILE.search(name) or CONFLICT_COPY.search(name):
            return True
        return self._spec is not None and self._spec.match_file(rel_path)
