"""Which paths under the sync root a sync leaves out, each by a named rule with a reason.

A file whose name ends in ``.md`` is a note unless one of the rules below names it, so
``~.md``, ``{.md``, ``#1.md`` and names with spaces, emoji or any script are notes. Every
rule is a precise pattern matched against the whole name, for what a known tool writes:

========================= ==========================================================
rule                      names it leaves out
========================= ==========================================================
``dot-folder``            folders starting with ``.`` (``.git``, ``.obsidian``)
``underscore-folder``     folders starting with ``_`` (``_drafts``, ``_site``)
``brainsync-temp``        ``.<name>.<host>-<pid>-<hex>.brainsync-tmp`` (our own writes)
``conflict-copy``         ``<stem>.conflict-<8 hex>.md`` (our own conflict copies)
``merge-leftover``        git mergetool's ``<stem>_BASE_<pid>.md`` (also ``_LOCAL_``,
                          ``_REMOTE_``, ``_BACKUP_``), before git 2.3
                          ``<name>.BASE.<pid>.md``; ``*.orig`` and ``*.rej``
``editor-lock``           emacs ``.#<name>``, LibreOffice ``.~lock.<name>#``, Microsoft
                          Office ``~$<name>``
``editor-temp``           vim ``*.sw[a-p]`` and ``4913``, emacs ``#<name>#``, JetBrains
                          ``*___jb_tmp___``/``*___jb_old___``, ``*.tmp``, Kate
                          ``*.kate-swp``, partial downloads ``*.part``/``*.crdownload``
``backup``                ``*~`` (vim, emacs, also ``*.~1~``), ``*.bak``, nano ``*.save``
``quarantined``           ``*.invalid``
``dot-file``              any other name starting with ``.`` (``.DS_Store``)
``not-markdown``          any other name not ending in ``.md`` (images, ``x.MD``)
``brainsyncignore``       what ``.brainsyncignore`` lists, in gitignore syntax
========================= ==========================================================

The first rule that matches names the file; :data:`REASONS` says why each rule exists.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

__all__ = [
    "BRAINSYNC_TEMP",
    "IGNORE_FILE",
    "REASONS",
    "TEMP_SUFFIX",
    "IgnoreRule",
    "IgnoreRules",
    "builtin_dir_rule",
    "builtin_file_rule",
]

IGNORE_FILE = ".brainsyncignore"
TEMP_SUFFIX = ".brainsync-tmp"
#: The temp files of :func:`brainsync.sync.files.atomic_write`: the target's name (cut to
#: fit), a hash of the writer's host name, its pid and a random token.
BRAINSYNC_TEMP = re.compile(
    r"\.(?P<stem>.*)\.(?P<host>[0-9a-f]{8})-(?P<pid>[1-9][0-9]{0,9})-[0-9a-f]{8}"
    + re.escape(TEMP_SUFFIX),
    re.DOTALL,
)


class IgnoreRule(StrEnum):
    """The name of each rule that leaves a path out of a sync."""

    DOT_FOLDER = "dot-folder"
    UNDERSCORE_FOLDER = "underscore-folder"
    BRAINSYNC_TEMP = "brainsync-temp"
    CONFLICT_COPY = "conflict-copy"
    MERGE_LEFTOVER = "merge-leftover"
    EDITOR_LOCK = "editor-lock"
    EDITOR_TEMP = "editor-temp"
    BACKUP = "backup"
    QUARANTINED = "quarantined"
    DOT_FILE = "dot-file"
    NOT_MARKDOWN = "not-markdown"
    BRAINSYNCIGNORE = "brainsyncignore"


REASONS: dict[IgnoreRule, str] = {
    IgnoreRule.DOT_FOLDER: "a tool's own state (.git, .obsidian, .trash), not notes",
    IgnoreRule.UNDERSCORE_FOLDER: "site generators' drafts, builds and templates",
    IgnoreRule.BRAINSYNC_TEMP: "brainsync's own write in progress; removed once its writer is gone",
    IgnoreRule.CONFLICT_COPY: "the other side of a conflict, kept for you to merge by hand",
    IgnoreRule.MERGE_LEFTOVER: "one side of a git merge, left by git mergetool or patch",
    IgnoreRule.EDITOR_LOCK: "an editor's lock: marks a file as open, holds no note",
    IgnoreRule.EDITOR_TEMP: "an editor's swap or temp file, or a download in progress",
    IgnoreRule.BACKUP: "an editor's backup of a file as it was before saving",
    IgnoreRule.QUARANTINED: "set aside as invalid; rename it to .md to import it again",
    IgnoreRule.DOT_FILE: "a hidden file: tools' settings and state, never a note",
    IgnoreRule.NOT_MARKDOWN: "only .md files are notes; attachments are left alone",
    IgnoreRule.BRAINSYNCIGNORE: "listed in .brainsyncignore",
}

# Whole-name patterns in the order they are tried; the first match names the rule.
_FILE_PATTERNS: tuple[tuple[IgnoreRule, str], ...] = (
    (IgnoreRule.BRAINSYNC_TEMP, BRAINSYNC_TEMP.pattern),
    (IgnoreRule.CONFLICT_COPY, r".+\.conflict-[0-9a-f]{8}\.md"),
    (
        IgnoreRule.MERGE_LEFTOVER,
        r".+_(?:BACKUP|BASE|LOCAL|REMOTE|DIFF3|LOCAL_LCONFL|REMOTE_RCONFL)_[0-9]+(?:\.[^.]*)?"
        r"|.+\.(?:BACKUP|BASE|LOCAL|REMOTE)\.[0-9]+(?:\.[^.]*)?|.+\.(?i:orig|rej)",
    ),
    (IgnoreRule.EDITOR_LOCK, r"\.#.+|\.~lock\..+#|~\$.+"),
    (
        IgnoreRule.EDITOR_TEMP,
        r".+\.(?i:sw[a-p]|tmp|part|crdownload|kate-swp)|.+___jb_(?:tmp|old)___|#.+#|4913",
    ),
    (IgnoreRule.BACKUP, r".+~|.+\.(?i:bak|save)"),
    (IgnoreRule.QUARANTINED, r".+\.invalid"),
    (IgnoreRule.DOT_FILE, r"\..*"),
)


@functools.cache
def _file_rules() -> re.Pattern[str]:
    """The patterns as one regex, compiled at first use: about 20 ms that a command which
    scans no folder (``status``, ``jobs``) should not pay at import."""
    alternatives = (f"(?P<{rule.name}>{pattern})" for rule, pattern in _FILE_PATTERNS)
    return re.compile("|".join(alternatives), re.DOTALL)


def builtin_file_rule(name: str) -> IgnoreRule | None:
    """The built-in rule that leaves the file ``name`` out, or ``None`` for a note."""
    found = _file_rules().fullmatch(name)
    if found is not None and found.lastgroup is not None:
        return IgnoreRule[found.lastgroup]
    if not name.endswith(".md"):
        return IgnoreRule.NOT_MARKDOWN
    return None


def builtin_dir_rule(name: str) -> IgnoreRule | None:
    """The built-in rule that keeps the walk out of folder ``name``, or ``None``."""
    if name.startswith("."):
        return IgnoreRule.DOT_FOLDER
    if name.startswith("_"):
        return IgnoreRule.UNDERSCORE_FOLDER
    return None


class IgnoreRules:
    """The built-in rules plus the root's ``.brainsyncignore``, asked name by name."""

    def __init__(self, root: Path) -> None:
        self._spec: pathspec.GitIgnoreSpec | None = None
        ignore_file = root / IGNORE_FILE
        if ignore_file.is_file():
            import pathspec  # only a folder with its own ignore file needs it (~35 ms)

            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    def dir_rule(self, rel_dir: str, name: str) -> IgnoreRule | None:
        """The rule that keeps the walk out of this folder, or ``None`` to enter it."""
        rule = builtin_dir_rule(name)
        if rule is None and self._spec is not None and self._spec.match_file(rel_dir + "/"):
            return IgnoreRule.BRAINSYNCIGNORE
        return rule

    def file_rule(self, rel_path: str, name: str) -> IgnoreRule | None:
        """The rule that leaves this file out, or ``None`` when it is a note."""
        rule = builtin_file_rule(name)
        if rule is None and self._spec is not None and self._spec.match_file(rel_path):
            return IgnoreRule.BRAINSYNCIGNORE
        return rule
